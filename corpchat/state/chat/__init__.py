"""The chat page's state: one class, composed of one mixin per concern.

- chat_list.py: the chat list and people search;
- window.py: the open room's message window (settled + live ring + scrolling back);
- composer.py: sending; drafts.py: the unsent text per chat;
- message_actions.py: edit, delete, react, delete a chat; confirm.py: asking before deleting;
- attachments.py: sending files, voice and video messages; this tab's signed media URLs;
- pushed.py: how this tab applies each live event (`@on(EventType)`);
- people.py: presence, avatars, blocks and the profile card (issue 13);
- groups.py: group administration (the handlers) and its live events; group_panel.py: the new
  group dialog and an open group's settings and audit log.
This module holds the page lifecycle (load, open and close a room). One class,
so that the wire names (`...chat_state.messages`) and realtime.live's broadcast
target stay one state; each handler authenticates (`@authed`), calls a service
and hands the Push it returns to `_emit` (state/base.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

import reflex as rx

from corpchat import db, views
from corpchat.realtime import hub, live
from corpchat.services import accounts, messages, policy, rooms
from corpchat.services.errors import Invalid, NotFound, ServiceError
from corpchat.state.base import AuthState, authed, in_thread
from corpchat.state.chat.attachments import AttachmentsMixin
from corpchat.state.chat.calls import CallsMixin
from corpchat.state.chat.chat_list import ChatListMixin
from corpchat.state.chat.composer import SENDING_AFTER, ComposerMixin  # noqa: F401
from corpchat.state.chat.confirm import ConfirmMixin
from corpchat.state.chat.drafts import DraftsMixin
from corpchat.state.chat.group_panel import GroupPanelMixin
from corpchat.state.chat.groups import GroupsMixin
from corpchat.state.chat.message_actions import MessageActionsMixin
from corpchat.state.chat.people import PeopleMixin
from corpchat.state.chat.pushed import PushedMixin
from corpchat.state.chat.recorder import RecorderMixin
from corpchat.state.chat.window import LIVE_WINDOW, MAX_WINDOW, TRIM_SLACK, WindowMixin  # noqa: F401

log = logging.getLogger(__name__)
LOAD_RETRY_SECONDS = 2.0
UNREACHABLE_TOAST = "db-unreachable"
UNREAD_CONTEXT = 10  # read messages loaded above the first unread one


def _room_of(stored) -> int:
    """The room id a tab kept, or 0 for anything else it may send."""
    return int(stored) if isinstance(stored, str) and stored.isdigit() and len(stored) <= 18 else 0


class ChatState(ChatListMixin, WindowMixin, ComposerMixin, DraftsMixin, MessageActionsMixin, ConfirmMixin,
                AttachmentsMixin, RecorderMixin, PushedMixin, PeopleMixin, GroupsMixin, GroupPanelMixin, CallsMixin,
                AuthState):
    room_id: int = 0
    # The open chat, kept by the tab itself: a restarted server has forgotten every tab's state,
    # and a reconnecting tab reopens what it showed (checked like any open: a member's chat only).
    shown_room: str = rx.SessionStorage("", name="corpchat_room")
    room_title: str = ""
    room_initials: str = ""
    room_avatar: str = ""  # a group's photo ("" for initials; a private chat's comes from people.py)
    room_kind: str = ""
    can_delete_others: bool = False  # policy: "delete for everyone" on others' messages here
    my_id: int = 0

    _tz: str = "UTC"
    _load_due: float = 0.0  # when a load the database did not answer is tried again (0: none)
    _load_failed: bool = False

    async def load_chat_page(self):
        """on_load of the app shell (also after every reconnect): the guard, then fresh data.
        A load the database could not answer (down, restarting) is tried again every few
        seconds until it works: the tab is not even registered for live events before it has
        loaded, and nothing else would bring it back without a reload."""
        try:
            loaded = await self._load_chat_page()
        except Exception as exc:
            if not db.unreachable(exc):
                raise
            log.warning("chat page load failed, database unreachable: retrying")
            self._load_due, self._load_failed = time.monotonic() + LOAD_RETRY_SECONDS, True
            # Shown until a load works (the same id: each try updates it, not a new one).
            return [rx.toast.error(self._t("err.db_unreachable"), id=UNREACHABLE_TOAST, duration=600_000),
                    ChatState.load_again]
        if self._load_failed:
            self._load_failed = False
            return [rx.toast.dismiss(UNREACHABLE_TOAST), *([loaded] if loaded is not None else [])]
        return loaded

    @rx.event(background=True)
    async def load_again(self):
        """Wait, then load the page again (only after a load the database did not answer)."""
        async with self:
            due, self._load_due = self._load_due, 0.0
        if not due:
            return
        await asyncio.sleep(max(0.0, min(LOAD_RETRY_SECONDS, due - time.monotonic())))
        yield ChatState.load_chat_page

    async def _load_chat_page(self):
        if not await self._login_from_cookie():
            await self._clear_view()
            return rx.redirect("/login")
        self.my_id = self._user_id
        self.panel_open = False  # back from a group's settings page
        locale = await in_thread(accounts.get_locale, self._user_id)
        self._use_language(locale or self._browser_language())
        await hub.connect(self._user_id, self._tab())
        # The people the list shows (presence, avatars) come with the time zone, right after the
        # page is up: "last seen" is phrased in it, and the list need not wait for them.
        await self._reload_chats(people=False)
        await self._restore_call()
        room = self.room_id or _room_of(self.shown_room)
        if room:
            try:
                await self._open(room)  # a reconnecting tab catches up here
            except ServiceError:
                await self._close()
        return rx.call_script("Intl.DateTimeFormat().resolvedOptions().timeZone",
                              callback=ChatState.set_timezone)

    async def _clear_view(self) -> None:
        self._set_chats(())
        self.people = []
        self.my_id = 0
        self._forget_people()
        await self._close()

    async def _close(self) -> None:
        await live.leave(self._tab())
        await self._drop_attached()  # files are attached to the chat they were picked in
        self._riding = False
        self.room_id, self.room_title, self.room_kind, self.room_avatar = 0, "", "", ""
        self.renamed = {}
        self.panel_open = False
        self.shown_room = ""
        self.room_other_id = 0
        self._set_room_call(0, "video", 0)
        self.can_delete_others = False
        self._show_members(0)
        self._set_settled(())
        self._set_pending(())
        self.hidden_ids, self.divider_seq = [], 0
        self.editing_id, self.editing_text = 0, ""
        self.draft = ""
        self._reset_confirm()

    @authed
    async def set_timezone(self, tz: str):
        if not isinstance(tz, str) or len(tz) > 64:
            raise Invalid()
        if not views.valid_zone(tz):
            return  # an unknown zone changes nothing
        if tz != self._tz:
            self._tz = tz
            await self._reload_chats()
            if self.room_id:
                await self._open(self.room_id)  # bubbles in the new zone, from that zone's ring
        else:
            await self._refresh_people()

    @authed
    async def open_room(self, room_id: int):
        await self._open(room_id)  # scrolled to the first unread by the pane (messages._to_divider)

    @authed
    async def close_room(self):
        await self._close()

    async def _open(self, room_id) -> None:
        row = await in_thread(rooms.chat_row, self._user_id, room_id)
        if row is None:  # not a member, or hidden (deleted for me and not written to since)
            await self._close()
            raise NotFound()
        # Join the room's broadcast BEFORE reading the history: see live.join.
        await live.join(self._tab(), self._user_id, row["id"], self._tz, self.lang)
        # Enough of the history to reach the first unread message (the count is capped).
        limit = min(messages.MAX_PAGE_SIZE, max(messages.PAGE_SIZE, int(row.get("unread") or 0) + UNREAD_CONTEXT))
        page, more = await in_thread(messages.history, self._user_id, row["id"], None, limit)
        self._show_draft(row)
        item = views.chat_item(row, self._user_id, views.zone(self._tz), self.lang)
        if item["room_id"] != self.room_id:
            self._set_pending(())  # pending messages belong to the room they were written in
            await self._drop_attached()
            self._moved = ""
        self.room_id, self.room_kind = item["room_id"], item["kind"]
        self.renamed = {}  # the window below is read with everyone's current name
        self.shown_room = str(self.room_id)
        self.room_title, self.room_initials, self.room_avatar = item["title"], item["initials"], item["avatar"]
        self.room_other_id = item["other_id"] if item["kind"] == "private" else 0
        self._render_presence()
        self.can_delete_others = policy.can(row["role"], "message.delete_others", row["kind"])
        self._show_members(int(row.get("members") or 0) if item["kind"] == "group" else 0)
        if item["kind"] == "group":
            await self._count_online()
        await self._show_room_call()
        self.has_older, self.has_newer = more, False
        self.editing_id, self.editing_text = 0, ""
        self._reset_confirm()
        self.hidden_ids = []
        self._riding = False
        settled = tuple(self._item(m) for m in page)
        self._set_settled(settled)
        # Messages up to the room's last seq as read above are in this history or hidden for me
        # (deleted for me, cleared): the ring must not show them again.
        self.settled_seq = max(self.settled_seq, int(row.get("last_seq") or 0))
        self.divider_seq = views.first_unread(settled, int(row.get("last_read_seq") or 0), self._user_id)
        live.seeded(self._tab(), self.settled_seq, settled[-1]["day"] if settled else "")
        await self._refresh_people(only_new=True)  # group senders' and reactors' avatars
        if page:
            await self._mark_read(page[-1]["seq"])


live.configure(ChatState.get_full_name())
