"""Other people on the chat page: presence, avatars, blocks and the profile card (issue 13).

What a block hides is never put into a public var: `presence` and `avatars`
only ever hold users that services.presence.people_views returned for this
viewer, and the card comes from services.profiles.get_profile, which blanks
the hidden fields. Bubbles in the shared ring carry no avatar; the page looks
the sender up in this tab's `avatars` instead (the ring rule).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

import reflex as rx

from corpchat import views
from corpchat.realtime import lifecycle
from corpchat.realtime.appliers import on
from corpchat.services import birthdate, blocks, presence, presence_text, profiles
from corpchat.services.errors import Invalid, NotFound
from corpchat.services.events import AvatarChanged, BlockChanged, PresenceChanged, ProfileChanged
from corpchat.state.base import authed, in_thread
from corpchat.views import avatar_url


class CardItem(TypedDict):
    user_id: int
    login: str
    name: str
    initials: str
    avatar: str
    status: str
    bio: str
    birth: str
    age: str
    gender: str
    hidden: bool
    blocked_by_me: bool
    is_self: bool


EMPTY_CARD: CardItem = {"user_id": 0, "login": "", "name": "", "initials": "", "avatar": "", "status": "",
                        "bio": "", "birth": "", "age": "", "gender": "", "hidden": False,
                        "blocked_by_me": False, "is_self": False}


class PeopleMixin(rx.State, mixin=True):
    # user id (as text: JSON object keys) -> "online" / "last seen ..." / avatar URL, only for
    # users this viewer may see (absent: no status line, initials).
    presence: dict[str, str] = {}
    avatars: dict[str, str] = {}
    online_ids: list[int] = []
    blocked_ids: list[int] = []  # a block either way between me and them
    my_blocks: list[int] = []  # the ones I blocked ("Unblock" is offered)
    room_other_id: int = 0  # the other user of the open private chat
    card: CardItem = EMPTY_CARD
    card_open: bool = False
    # user id -> [name, initials] of people renamed since the open chat was read: bubbles already
    # shown (this tab's window and the room's shared ring) carry the name they were sent with.
    renamed: dict[str, list[str]] = {}

    # user id -> [gender, last seen (ISO or ""), online]: what the status text is made from.
    _seen: dict = {}

    # ----- loading --------------------------------------------------------------
    def _people_ids(self) -> set[int]:
        ids = {c["other_id"] for c in self._chats if c.get("other_id")}
        ids.update(p["id"] for p in self.people)
        if self.room_kind == "group":  # the senders' avatars beside their bubbles
            ids.update(m["sender_id"] for m in self._settled if m["sender_id"])  # 0: a system line
        # The faces on reaction chips (mine too): their photos, where this tab may see them.
        ids.update(f["id"] for m in self._settled for r in m.get("reactions", ()) for f in r["faces"])
        if self.card["user_id"]:
            ids.add(self.card["user_id"])
        ids.update(m["id"] for m in self.members)  # the group settings page's page of members
        return ids

    async def _refresh_people(self, only_new: bool = False) -> None:
        """Presence, avatars and blocks of everyone this tab shows, read again (`only_new`: only
        when it shows someone it has not read yet; live events keep the others current)."""
        if only_new and self._people_ids() <= self._seen.keys():
            return
        me = self._user_id
        seen, (either, mine) = await in_thread(presence.page_people, me, self._people_ids())
        online = await lifecycle.online(list(seen))
        self._seen = {uid: [v.gender, v.last_seen_at.isoformat() if v.last_seen_at else "", uid in online]
                      for uid, v in seen.items()}
        self.avatars = {str(uid): avatar_url(v.avatar_id) for uid, v in seen.items() if v.avatar_id}
        self.blocked_ids, self.my_blocks = sorted(either), sorted(mine)
        self._render_presence()

    def _render_presence(self) -> None:
        now = datetime.now(UTC)
        # Status lines show for the open private chat's partner and the card only: the chat list
        # has dots (`online_ids`), so 500 chats do not cost 500 phrases at every page load.
        self.presence = {str(uid): self._status(uid, now) for uid in self._status_ids() if uid in self._seen}
        self.online_ids = sorted(uid for uid, s in self._seen.items() if s[2])

    def _status_ids(self) -> set[int]:
        return {uid for uid in (self.room_other_id, self.card["user_id"]) if uid}

    def _status(self, uid: int, now: datetime | None = None) -> str:
        gender, seen, online = self._seen[uid]
        return presence_text.last_seen_text(
            self.lang, online=online, last_seen=datetime.fromisoformat(seen) if seen else None,
            gender=gender, tz=self._tz, now=now)

    def _forget_people(self) -> None:
        self._seen, self.presence, self.avatars, self.online_ids = {}, {}, {}, []
        self.blocked_ids, self.my_blocks, self.room_other_id = [], [], 0
        self.card, self.card_open = EMPTY_CARD, False

    # ----- the profile card --------------------------------------------------------
    async def _load_card(self, user_id) -> None:
        p = await in_thread(profiles.get_profile, self._user_id, user_id)
        status = ""
        if not p.hidden and not p.is_self:
            online = bool(await lifecycle.online([p.user_id]))
            status = presence_text.last_seen_text(self.lang, online=online, last_seen=p.last_seen_at,
                                                  gender=p.gender, tz=self._tz)
        self.card = {
            "user_id": p.user_id, "login": p.login, "name": p.display_name,
            "initials": views.initials(p.display_name), "avatar": avatar_url(p.avatar_id, 512),
            "status": status, "bio": p.bio or "",
            "birth": birthdate.format_birth_date(self.lang, p.birth) if p.birth else "",
            "age": birthdate.format_age(self.lang, p.age) if p.age is not None else "",
            "gender": self._t(f"gender.{p.gender}") if p.gender != "unspecified" else "",
            "hidden": p.hidden, "blocked_by_me": p.blocked_by_me, "is_self": p.is_self,
        }

    @authed
    async def open_profile(self, user_id: int):
        await self._load_card(user_id)
        self.card_open = True
        if not self.card["hidden"] and not self.card["is_self"] and self.card["user_id"] not in self._seen:
            await self._refresh_people()  # so the card's status follows PresenceChanged

    @authed
    async def card_toggled(self, open: bool):
        if open is not False and open is not True:
            raise Invalid()
        if not open:
            self.card_open, self.card = False, EMPTY_CARD

    # ----- blocking -------------------------------------------------------------
    @authed
    async def block_user(self, user_id: int):
        await self._emit(await in_thread(blocks.block, self._user_id, user_id))

    @authed
    async def unblock_user(self, user_id: int):
        await self._emit(await in_thread(blocks.unblock, self._user_id, user_id))

    # ----- live changes ------------------------------------------------------------
    @on(PresenceChanged)
    def _on_presence(self, event: PresenceChanged) -> None:
        state = self._seen.get(event.user_id)
        if state is None:  # not shown in this tab (the audience is every watcher)
            return
        self._seen = {**self._seen, event.user_id: [event.gender, event.last_seen or state[1], event.online]}
        if event.user_id in self._status_ids():
            self.presence = {**self.presence, str(event.user_id): self._status(event.user_id)}
        online = set(self.online_ids)
        (online.add if event.online else online.discard)(event.user_id)
        self.online_ids = sorted(online)
        if self.card["user_id"] == event.user_id:
            self.card = {**self.card, "status": self._status(event.user_id)}

    @on(AvatarChanged)
    def _on_avatar(self, event: AvatarChanged) -> None:
        key = str(event.user_id)
        if event.user_id in self._seen:
            avatars = {k: v for k, v in self.avatars.items() if k != key}
            if event.avatar_id:
                avatars[key] = avatar_url(event.avatar_id)
            self.avatars = avatars
        if self.card["user_id"] == event.user_id:
            self.card = {**self.card, "avatar": avatar_url(event.avatar_id, 512)}

    @on(ProfileChanged)
    async def _on_profile(self, event: ProfileChanged) -> None:
        uid = event.user_id
        name, initials = event.display_name, views.initials(event.display_name)
        if self.room_kind == "group" and self.renamed.get(str(uid)) != [name, initials]:
            self.renamed = {**self.renamed, str(uid): [name, initials]}
        for chat in [c for c in self._chats if c["kind"] == "group" and c.get("lm_sender") == uid]:
            await self._refresh_chat_row(chat["room_id"])  # "Anna: ..." with the new name
        if uid in self._seen and self._seen[uid][0] != event.gender:
            self._seen = {**self._seen, uid: [event.gender, *self._seen[uid][1:]]}
            if uid in self._status_ids():
                self.presence = {**self.presence, str(uid): self._status(uid)}
        for chat in self._chats:
            if chat.get("other_id") == uid and chat["kind"] == "private" and chat["title"] != event.display_name:
                self._put_chat({**chat, "title": event.display_name,
                                "initials": views.initials(event.display_name)}, to_top=False)
        if self.room_other_id == uid:
            self.room_title, self.room_initials = event.display_name, views.initials(event.display_name)
        if self.card["user_id"] == uid:
            born = _birth(event.birth)
            age = birthdate.age(born) if born else None
            self.card = {
                **self.card, "name": event.display_name, "initials": views.initials(event.display_name),
                "bio": event.bio, "birth": birthdate.format_birth_date(self.lang, born) if born else "",
                "age": birthdate.format_age(self.lang, age) if age is not None else "",
                "gender": self._t(f"gender.{event.gender}") if event.gender != "unspecified" else "",
            }

    @on(BlockChanged)
    async def _on_block(self, event: BlockChanged) -> None:
        me = self._user_id
        other = event.blocked if event.blocker == me else event.blocker
        if event.active:  # drop what the block hides at once, before any read
            key = str(other)
            self._seen = {u: v for u, v in self._seen.items() if u != other}
            self.presence = {k: v for k, v in self.presence.items() if k != key}
            self.avatars = {k: v for k, v in self.avatars.items() if k != key}
            self.online_ids = [u for u in self.online_ids if u != other]
        await self._refresh_people()
        if self.card["user_id"] == other:
            try:
                await self._load_card(other)
            except NotFound:
                self.card_open, self.card = False, EMPTY_CARD


def _birth(text: str) -> birthdate.BirthDate | None:
    parts = [int(p) for p in text.split(".") if p.isascii() and p.isdigit()] if text else []
    if len(parts) < 2:
        return None
    return birthdate.BirthDate(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
