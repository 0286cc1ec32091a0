"""The live events: what a committed change tells the open tabs (no Reflex here).

A service that changes something others see returns what to tell, after its transaction has
committed: one `Push(audience, event)`, several in order (a list: "member removed" tells the
removed member one thing and the members who stay another), or None for nothing. The state
layer hands them to `AuthState._emit`, which applies to its own tab exactly the pushes whose
audience includes it, with the same `@on(EventType)` functions every other tab runs (see
corpchat/realtime/appliers.py), and gives them all to `realtime.hub.push`.

Who is told and who loses a room are separate lists on the Push: `audience` (user ids told),
`evict` (user ids whose tabs leave the room's live broadcast before anything else of this
push goes out), and `to_tabs` (only these tabs of the audience; see Push).

How an event travels is declared on its class, never decided by the caller:
- `lazy`: may wait up to a second or two and be coalesced with others of its
  kind (chat-list moves of a busy group); otherwise applied at once.
- `viewers_only`: only tabs that show `room_id` apply it (elsewhere it would
  change nothing but cost a state change).
- `ring`: "upsert" / "remove": it also changes the room's live message ring,
  broadcast once to every tab showing the room (`message` is the raw message
  dict). Nothing that differs per viewer may ever go into the ring: hiding,
  "mine", my reactions are decided on the page from per-tab vars.

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
    # A later event of the same class about the same user carries everything this one did:
    # a tab that has both queued applies only the later (services' pushes to contacts).
    supersedes: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Push:
    """One thing to tell after a commit: who is told (user ids), and what.

    `evict`: users who lost `event.room_id` (removed from a group, the chat deleted for them):
    their tabs leave its live broadcast first, on every worker, whether or not they are told
    anything. `to_tabs`: tab tokens, for answers meant for one tab (a "this tab only" reply):
    only those tabs of the audience get it, the acting tab included only if named. Tab tokens
    are the state layer's (`AuthState._tab()`); services never see them.
    """

    audience: tuple[int, ...]
    event: Event
    to_tabs: tuple[str, ...] = field(default=())
    evict: tuple[int, ...] = field(default=())


def pushes(result) -> list[Push]:
    """A service's answer as a list: None, one Push or several (in order)."""
    if result is None:
        return []
    if isinstance(result, Push):
        return [result]
    return [p for p in result if p is not None]


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
    """Deleted the chat for me (pushed with evict: my tabs leave its broadcast at once)."""


@dataclass(frozen=True, slots=True)
class RingFold(Event):
    """Realtime's own: the tab should fold the live ring into its window (never pushed by a service)."""


@dataclass(frozen=True, slots=True)
class RoomLeft(Event):
    """Realtime's own: carries a Push's `evict` to the worker holding the tab, which takes the tab
    off the room's broadcast; never applied by a state (never pushed by a service)."""


# ----- groups -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GroupRenamed(Event):
    name: str = ""


@dataclass(frozen=True, slots=True)
class GroupAvatarChanged(Event):
    """The group's photo is now `avatar_id` ("": initials again)."""

    avatar_id: str = ""


@dataclass(frozen=True, slots=True)
class MemberRemoved(Event):
    """`user_id` is no longer a member: told to the members who stay (one fewer). Lazy: in a
    big group it rides with the system line's chat-list move instead of costing every member's
    tab a state change of its own at once."""

    user_id: int = 0
    lazy: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class MembersAdded(Event):
    """`user_ids` joined: told to the members who were there (the newcomers get the chat
    through the system lines). Lazy, like MemberRemoved."""

    user_ids: tuple[int, ...] = ()
    lazy: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class RoleChanged(Event):
    """`user_id` is now `role` in the group (what they may do there changes with it)."""

    user_id: int = 0
    role: str = "member"


@dataclass(frozen=True, slots=True)
class RemovedFromChat(Event):
    """I am no longer a member: the chat leaves my list and my screen (pushed with evict, so my
    tabs are off the room's broadcast first)."""


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


# ----- calls (issue 23): user-level call control; SDP and ICE go over the signalling route ----
@dataclass(frozen=True, slots=True)
class CallRinging(Event):
    """`caller_id` calls me: every tab of the callee rings (no peer id here: a tab gets its own
    only when it accepts)."""

    call_id: int = 0
    caller_id: int = 0
    kind: str = "video"
    caller_name: str = ""  # a group's ringing shows who calls under the group's name


@dataclass(frozen=True, slots=True)
class CallAccepted(Event):
    """`user_id` joined the call: the caller's tab connects, the callee's other tabs stop ringing."""

    call_id: int = 0
    user_id: int = 0


@dataclass(frozen=True, slots=True)
class CallMediaChanged(Event):
    """`user_id` turned their camera or microphone on or off: the others show the avatar instead of
    a black picture, and a muted microphone."""

    call_id: int = 0
    user_id: int = 0
    mic: bool = True
    camera: bool = True


@dataclass(frozen=True, slots=True)
class CallEnded(Event):
    """The call is over for everyone (`outcome`: answered, missed, declined, cancelled)."""

    call_id: int = 0
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class GroupCallChanged(Event):
    """Someone joined or left the group's call: `count` are in it now (0: none runs). Told to every
    member of the group: a tab in the call re-reads its tiles, a tab showing the group shows the
    banner with Join."""

    call_id: int = 0
    kind: str = "video"
    count: int = 0
    inside: tuple = ()  # who is in it (user ids): their other tabs show no Join


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
