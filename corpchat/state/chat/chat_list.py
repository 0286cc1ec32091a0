"""The chat list and people search of the chat page."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from corpchat import views
from corpchat.services import rooms
from corpchat.services.errors import Invalid
from corpchat.state.base import authed, in_thread

TOP_MAX = 20  # moved-up chats kept apart before the whole list is re-sent once
APP_TITLE = "CorpChat"


class ChatListMixin(rx.State, mixin=True):
    # The chat list is shown as `chats_top` (chats moved up since the list was loaded, newest
    # first) followed by `chats` without those in `top_ids`: a new message then re-sends a few
    # entries, not every chat of a user with hundreds (107 KB at 500 chats).
    chats: list[views.ChatItem] = []
    chats_top: list[views.ChatItem] = []
    top_ids: list[int] = []
    people: list[views.PersonItem] = []
    people_query: str = ""
    sidebar_tab: str = "chats"

    # Backend tuples mirror the public lists: reading a tuple does not wrap every
    # item in a change-tracking proxy, which dominated the cost of a push.
    _chats: tuple = ()  # the whole list in display order (chats_top, then the rest of chats)
    _rest: tuple = ()  # = chats

    @rx.var
    def page_title(self) -> str:
        """The tab title with the unread total, "(3) CorpChat", as messengers do."""
        total = sum(c.get("unread") or 0 for c in self._chats)
        return f"({total}) {APP_TITLE}" if total > 0 else APP_TITLE

    def _set_chats(self, items) -> None:
        """The whole list, re-sent (loading, removing, changing an entry below the top)."""
        self._chats = self._rest = tuple(items)
        self.chats = list(self._rest)
        if self.top_ids:
            self.chats_top, self.top_ids = [], []

    def _chat(self, room_id: int) -> dict | None:
        return next((c for c in self._chats if c["room_id"] == room_id), None)

    def _drop_chat(self, room_id: int) -> None:
        self._set_chats([c for c in self._chats if c["room_id"] != room_id])

    def _put_chat(self, item: dict, to_top: bool) -> None:
        """One entry changed; to_top: it moves to the top of the list (a new message)."""
        room_id = item["room_id"]
        top = [c for c in self._top_items() if c["room_id"] != room_id]
        if to_top:
            top.insert(0, item)
        elif len(top) < len(self.top_ids):  # it is in the top part: change it in place
            top = [item if c["room_id"] == room_id else c for c in self._top_items()]
        else:
            self._set_chats([item if c["room_id"] == room_id else c for c in self._chats])
            return
        ids = [c["room_id"] for c in top]
        in_top = set(ids)
        rest = [c for c in self._rest if c["room_id"] not in in_top]
        if len(top) > TOP_MAX:
            self._set_chats(top + rest)
            return
        self.chats_top, self.top_ids = top, ids
        self._chats = tuple(top + rest)

    def _top_items(self) -> list[dict]:
        return list(self._chats[:len(self.top_ids)])

    async def _reload_chats(self, people: bool = True) -> None:
        rows = await in_thread(rooms.chat_list, self._user_id)
        tz, now = views.zone(self._tz), datetime.now(UTC)
        self._set_chats([views.chat_item(r, self._user_id, tz, self.lang, now) for r in rows])
        if people:
            await self._refresh_people()  # issue 13: their presence and avatars (state/chat/people.py)

    async def _refresh_chat_row(self, room_id: int) -> None:
        row = await in_thread(rooms.chat_row, self._user_id, room_id)
        if row is None:
            self._drop_chat(room_id)
            return
        self._put_chat(views.chat_item(row, self._user_id, views.zone(self._tz), self.lang), to_top=False)

    def _set_unread(self, room_id: int, n: int) -> None:
        c = self._chat(room_id)
        if c is not None and c["unread"] != n:
            self._put_chat({**c, "unread": n, "unread_label": views.unread_label(n)}, to_top=False)

    def _bump_chat(self, message: dict, unread: int | None = None) -> None:
        """Move the chat to the top with `message` as its preview (or just refresh the preview)."""
        room_id = message["room_id"]
        existing = self._chat(room_id)
        if existing is None:
            return  # a chat this list does not show yet comes with the next reload
        if message["seq"] < existing["last_seq"]:
            return  # an older message told again (a resend): the preview shows a newer one
        mine = views.by_viewer(message, self._user_id)
        new = message["seq"] > existing["last_seq"]
        if unread is None:
            unread = 0 if mine else existing["unread"] + (1 if new else 0)
        if room_id == self.room_id:
            unread = 0
        item = views.chat_item_after_message(existing, message, unread, self._user_id,
                                             views.zone(self._tz), self.lang)
        self._put_chat(item, to_top=new)

    @authed
    async def show_tab(self, tab: str | list[str]):
        if tab not in ("chats", "people"):
            raise Invalid()
        self.sidebar_tab = tab
        if tab == "people":
            self.people = views.people(await in_thread(rooms.search_users, self._user_id, self.people_query))
            await self._refresh_people()

    @authed
    async def search_people(self, query: str):
        if not isinstance(query, str) or len(query) > 100:
            raise Invalid()
        self.people_query = query
        self.people = views.people(await in_thread(rooms.search_users, self._user_id, query))
        await self._refresh_people()

    @authed
    async def open_user(self, user_id: int):
        room_id = await in_thread(rooms.open_private, self._user_id, user_id)
        self.sidebar_tab = "chats"
        await self._reload_chats()
        await self._open(room_id)
