"""The live events: what a committed change tells the open tabs (no Reflex here).

A service that changes something others see returns `Push(audience, event)`
after its transaction has committed; the state layer hands it to
`realtime.push` (which picks the road from the event's class flags) and
applies it to its own tab with the same `@on(EventType)` function every other
tab runs (see corpchat/realtime/appliers.py).

How an event travels is declared on its class, never decided by the caller:
- `lazy`: may wait up to a second or two and be coalesced with others of its
  kind (chat-list moves of a busy group); otherwise applied at once.
- `viewers_only`: only tabs that show `room_id` apply it (elsewhere it would
  change nothing but cost a state change).
- `ring`: "upsert" / "remove": it also changes the room's live message ring,
  broadcast once to every tab showing the room (`message` is the raw message
  dict). Nothing that differs per viewer may ever go into the ring: hiding,
  "mine", my reactions are decided on the page from per-tab vars.
- `evicts`: the audience's tabs leave the room's broadcast before the event
  is delivered (a member removed: no later message of the room reaches them).

Events are frozen dataclasses of ids, strings and small dicts: they cross
worker boundaries pickled (realtime/router.py) and tests round-trip them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Event:
    room_id: int = 0

    lazy: ClassVar[bool] = False
    viewers_only: ClassVar[bool] = False
    ring: ClassVar[str] = ""  # "", "upsert" (takes `message`) or "remove" (takes `message_id`, `seq`)
    evicts: ClassVar[bool] = False
    # A later event of the same class about the same user carries everything this one did:
    # a tab that has both queued applies only the later (services' pushes to contacts).
    supersedes: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Push:
    """What a service returns after its commit: who is told (user ids), and what."""

    audience: tuple[int, ...]
    event: Event
    # Exact tabs (call signalling): only these tabs of the audience get it.
    to_tabs: tuple[str, ...] = field(default=())


# ----- messages ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MessageSent(Event):
    """A new message (the raw message dict of services.messages)."""

    message: dict = field(default_factory=dict)
    lazy: ClassVar[bool] = True  # the ring shows it at once; chat lists may wait and coalesce
    ring: ClassVar[str] = "upsert"


@dataclass(frozen=True, slots=True)
class MessagesArrived(Event):
    """Several MessageSent of one room, merged by a tab's mailbox (oldest first). Never pushed."""

    messages: tuple = ()


@dataclass(frozen=True, slots=True)
class MessageEdited(Event):
    message: dict = field(default_factory=dict)
    ring: ClassVar[str] = "upsert"


@dataclass(frozen=True, slots=True)
class ReactionChanged(Event):
    message: dict = field(default_factory=dict)
    viewers_only: ClassVar[bool] = True  # a chat-list preview shows no reactions
    ring: ClassVar[str] = "upsert"


@dataclass(frozen=True, slots=True)
class MessageDeleted(Event):
    """Deleted for everyone: gone from every ring and window."""

    message_id: int = 0
    seq: int = 0
    ring: ClassVar[str] = "remove"


@dataclass(frozen=True, slots=True)
class MessageHidden(Event):
    """Deleted for me: gone from my tabs only (the audience is the actor)."""

    message_id: int = 0
    seq: int = 0


# ----- chats -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChatRead(Event):
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ChatHidden(Event):
    """Deleted the chat for me: my tabs leave its broadcast at once."""

    evicts: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class RingFold(Event):
    """Realtime's own: the tab should fold the live ring into its window (never pushed by a service)."""


# ----- accounts ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignedOut(Event):
    """Logout or password change: every open tab of the user forgets the login."""


# ----- people: presence, profile, avatar, blocks (issue 13) -------------------------
# Audiences come from visibility.presence_watchers (contacts minus blocks either way), so
# these may carry what a block hides; the blocked pair only ever get BlockChanged.
@dataclass(frozen=True, slots=True)
class PresenceChanged(Event):
    """A user's first tab opened (online) or last tab went away (last_seen, ISO, UTC)."""

    user_id: int = 0
    online: bool = False
    last_seen: str = ""
    gender: str = "unspecified"  # "був"/"була": the text is made per viewer, in their language
    lazy: ClassVar[bool] = True  # a crowd coming and going is coalesced like chat-list moves
    supersedes: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ProfileChanged(Event):
    """Name, bio, gender or birth date edited (the public fields, as the watchers see them)."""

    user_id: int = 0
    login: str = ""
    display_name: str = ""
    gender: str = "unspecified"
    bio: str = ""
    birth: str = ""  # "DD.MM" or "DD.MM.YYYY": formatted (and the age counted) per viewer
    supersedes: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class AvatarChanged(Event):
    user_id: int = 0
    avatar_id: str = ""  # "" = initials
    supersedes: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class BlockChanged(Event):
    """`blocker` blocked (or unblocked) `blocked`. Sent to the two of them only; carries no
    profile data: each side re-reads what it may see now."""

    blocker: int = 0
    blocked: int = 0
    active: bool = False


def all_event_types() -> list[type[Event]]:
    """Every concrete event class (for the registry and its tests)."""
    found, todo = set(), list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        # dataclass(slots=True) makes a new class: keep the one the module exports
        if getattr(sys.modules.get(cls.__module__), cls.__name__, None) is cls:
            found.add(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)
