"""The chat page: chat list, people search, the open room's message window.

Thin by design: each handler authenticates (`@authed`), calls a service in a
worker thread, copies the result into small view vars, then hands the
service's committed change to `realtime.hub` for the other tabs.
"""

from __future__ import annotations

import asyncio
import uuid
import reflex as rx

from corpchat import i18n
from corpchat.realtime import hub, read_marks
from corpchat.services import accounts, messages as msg_service, rooms
from corpchat.services.errors import Invalid
from corpchat.state import views
from corpchat.state.base import AuthState, authed

MAX_WINDOW = 300  # messages held in state at most (older pages drop the newest)
LIVE_WINDOW = 100  # while following the newest messages


def _room_event(kind: str, room_id: int, **data) -> dict:
    return {"type": kind, "room_id": room_id, **data}


async def _call(fn, *args):
    """Services are synchronous (SQLAlchemy); keep the event loop free."""
    return await asyncio.to_thread(fn, *args)


class ChatState(AuthState):
    chats: list[views.ChatItem] = []
    people: list[views.PersonItem] = []
    people_query: str = ""
    sidebar_tab: str = "chats"

    room_id: int = 0
    room_title: str = ""
    room_initials: str = ""
    room_kind: str = ""
    messages: list[views.MessageItem] = []
    has_older: bool = False
    has_newer: bool = False
    editing_id: int = 0
    editing_text: str = ""

    _tz: str = "UTC"
    _last_read_seq: int = 0
    # The raw service dicts behind `messages` (oldest first).
    _window_raw: list[dict] = []
    _needs_reload: bool = False

    # ----- page lifecycle -------------------------------------------------
    async def load_chat_page(self):
        """on_load of the app shell: the guard, then the chat list."""
        if not await self._login_from_cookie():
            self._clear_view()
            return rx.redirect("/login")
        locale = await _call(accounts.get_locale, self._user_id)
        self._use_language(locale or self._browser_language())
        await hub.connect(self._user_id, self.router.session.client_token)
        await self._reload_chats()
        if self.room_id:
            await self._open(self.room_id)
        return rx.call_script("Intl.DateTimeFormat().resolvedOptions().timeZone",
                              callback=ChatState.set_timezone)

    def _clear_view(self) -> None:
        self.chats, self.people, self.messages = [], [], []
        self.room_id, self.room_title, self.room_kind = 0, "", ""

    @authed
    async def set_timezone(self, tz: str):
        if isinstance(tz, str) and len(tz) <= 64 and views.zone(tz) is not None and tz != self._tz:
            self._tz = tz
            await self._reload_chats()
            if self.room_id:
                self.messages = self._render(self._window_raw)

    @authed
    async def set_language(self, lang: str):
        if not isinstance(lang, str) or lang not in i18n.LANGUAGES:
            raise Invalid()
        await _call(accounts.set_locale, self._user_id, lang)
        self._use_language(lang)
        await self._reload_chats()

    # ----- sidebar --------------------------------------------------------
    async def _reload_chats(self) -> None:
        rows = await _call(rooms.chat_list, self._user_id)
        tz = views.zone(self._tz)
        self.chats = [views.chat_item(r, self._user_id, tz, self.lang) for r in rows]

    @authed
    async def show_tab(self, tab: str | list[str]):
        if tab not in ("chats", "people"):
            raise Invalid()
        self.sidebar_tab = tab
        if tab == "people":
            self.people = views.people(await _call(rooms.search_users, self._user_id, self.people_query))

    @authed
    async def search_people(self, query: str):
        if not isinstance(query, str) or len(query) > 100:
            raise Invalid()
        self.people_query = query
        self.people = views.people(await _call(rooms.search_users, self._user_id, query))

    @authed
    async def open_user(self, user_id: int):
        room_id = await _call(rooms.open_private, self._user_id, user_id)
        self.sidebar_tab = "chats"
        await self._reload_chats()
        await self._open(room_id)

    # ----- the open room --------------------------------------------------
    @authed
    async def open_room(self, room_id: int):
        await self._open(room_id)

    @authed
    async def close_room(self):
        self.room_id, self.messages, self._window_raw = 0, [], []

    async def _open(self, room_id) -> None:
        row = await _call(rooms.chat_row, self._user_id, room_id)
        page, more = await _call(msg_service.history, self._user_id, room_id)
        if row is None:  # hidden from the list (deleted for me, not yet written to)
            self.room_id = 0
            self.messages = []
            return
        item = views.chat_item(row, self._user_id, views.zone(self._tz), self.lang)
        self.room_id, self.room_kind = item["room_id"], item["kind"]
        self.room_title, self.room_initials = item["title"], item["initials"]
        self._last_read_seq = int(row.get("last_read_seq") or 0)
        self._window_raw = page
        self.has_older, self.has_newer = more, False
        self.editing_id, self.editing_text = 0, ""
        self.messages = self._render(page)
        if page:
            await self._mark_read(page[-1]["seq"])

    def _render(self, raw: list[dict]) -> list[dict]:
        tz = views.zone(self._tz)
        items = [views.message_item(m, self._user_id, tz, self.lang) for m in raw]
        pending = [m for m in self.messages if m.get("status") in ("sending", "failed")
                   and m.get("room_id") == self.room_id]
        return views.lay_out(items + pending, self._last_read_seq, self._user_id)

    def _set_window(self, raw: list[dict]) -> None:
        self._window_raw = raw
        self.messages = self._render(raw)

    async def _mark_read(self, seq: int) -> None:
        await _call(rooms.mark_read, self._user_id, self.room_id, seq)
        self._set_unread(self.room_id, 0)
        hub.fan_out([self._user_id], _room_event("read", self.room_id, seq=seq),
                    skip_token=self.router.session.client_token)

    def _set_unread(self, room_id: int, n: int) -> None:
        chats = list(self.chats)
        for i, c in enumerate(chats):
            if c["room_id"] == room_id and c["unread"] != n:
                chats[i] = {**c, "unread": n, "unread_label": views.unread_label(n)}
                self.chats = chats
                return

    @authed
    async def load_older(self):
        window = self._window_raw
        if not self.room_id or not window:
            return
        page, more = await _call(msg_service.history, self._user_id, self.room_id, window[0]["seq"])
        combined = page + window
        if len(combined) > MAX_WINDOW:
            combined = combined[:MAX_WINDOW]
            self.has_newer = True
        self.has_older = more
        self._set_window(combined)

    @authed
    async def jump_to_latest(self):
        if self.room_id:
            await self._open(self.room_id)

    # ----- sending ----------------------------------------------------------
    @authed
    async def send_message(self, form_data: dict):
        if not isinstance(form_data, dict) or not self.room_id:
            raise Invalid()
        body = form_data.get("text")
        client_id = form_data.get("client_id") or uuid.uuid4().hex
        msg_service._check_text(body)  # refuse empty/too long before showing "sending…"
        pending = {
            "id": 0, "seq": 0, "mine": True, "kind": "text", "text": body.strip(),
            "segments": [{"kind": "text", "text": body.strip(), "href": ""}],
            "sender_id": self._user_id, "sender_name": "", "initials": "", "client_id": client_id,
            "time": "", "day": "", "day_label": "", "edited": False, "status": "sending",
            "reactions": [], "show_day": False, "new_divider": False, "room_id": self.room_id,
        }
        self.messages = self.messages + [pending]
        yield
        async for update in self._deliver(self.room_id, body, client_id):
            yield update

    @authed
    async def retry(self, client_id: str):
        failed = [m for m in self.messages if m.get("client_id") == client_id and m.get("status") == "failed"]
        if not failed:
            raise Invalid()
        self._set_status(client_id, "sending")
        yield
        async for update in self._deliver(failed[0]["room_id"], failed[0]["text"], client_id):
            yield update

    def _set_status(self, client_id: str, status: str) -> None:
        self.messages = [{**m, "status": status} if m.get("client_id") == client_id and m.get("seq") == 0
                         else m for m in self.messages]

    async def _deliver(self, room_id: int, body: str, client_id: str):
        try:
            message, recipients, created = await _call(
                msg_service.send, self._user_id, room_id, body, client_id)
        except Invalid as exc:
            self.messages = [m for m in self.messages if m.get("client_id") != client_id or m.get("seq")]
            yield rx.toast.error(self._t(exc.key, **exc.params))
            return
        except Exception:
            self._set_status(client_id, "failed")
            yield rx.toast.error(self._t("err.send_failed"))
            return
        self.messages = [m for m in self.messages if m.get("client_id") != client_id or m.get("seq")]
        self._apply_message(message)
        if created:
            hub.fan_out(recipients, _room_event("message", room_id, message=message),
                        skip_token=self.router.session.client_token)

    def _apply_message(self, message: dict) -> None:
        """Insert a committed message into the window (idempotent by id) and the chat list."""
        room_id = message["room_id"]
        if room_id == self.room_id and not self.has_newer:
            window = [m for m in self._window_raw if m["id"] != message["id"]]
            window.append(message)
            window.sort(key=lambda m: m["seq"])
            if len(window) > LIVE_WINDOW:
                window = window[-LIVE_WINDOW:]
                self.has_older = True
            self._set_window(window)
        self._bump_chat(message)

    def _bump_chat(self, message: dict) -> None:
        room_id = message["room_id"]
        tz = views.zone(self._tz)
        existing = next((c for c in self.chats if c["room_id"] == room_id), None)
        if existing is None:
            self._needs_reload = True
            return
        mine = message["sender_id"] == self._user_id
        open_here = room_id == self.room_id
        unread = 0 if (mine or open_here) else existing["unread"] + 1
        row = {
            "id": room_id, "kind": existing["kind"], "name": existing["title"],
            "other_name": existing["title"], "other_id": existing["other_id"],
            "lm_id": message["id"], "lm_kind": message["kind"], "lm_text": message["text"],
            "lm_sender": message["sender_id"], "lm_sender_name": message["sender_name"],
            "lm_at": message["created_at"], "unread": unread, "last_seq": message["seq"],
        }
        item = views.chat_item(row, self._user_id, tz, self.lang)
        self.chats = [item] + [c for c in self.chats if c["room_id"] != room_id]

    # ----- edit / delete / react ------------------------------------------
    @authed
    async def start_edit(self, message_id: int):
        target = next((m for m in self.messages if m["id"] == message_id and m["mine"]
                       and m["kind"] == "text" and m["status"] == "sent"), None)
        if target is None:
            raise Invalid("err.not_editable")
        self.editing_id, self.editing_text = target["id"], target["text"]

    @authed
    async def composer_key(self, key: str, field_empty: bool):
        """Up in an empty composer edits my last text message."""
        if key == "ArrowUp" and field_empty is True:
            own = [m for m in self.messages if m["mine"] and m["kind"] == "text" and m["status"] == "sent"]
            if own:
                self.editing_id, self.editing_text = own[-1]["id"], own[-1]["text"]

    @authed
    async def edit_key(self, key: str, field_empty: bool):
        if key == "Escape":
            self.editing_id, self.editing_text = 0, ""

    @authed
    async def cancel_edit(self):
        self.editing_id, self.editing_text = 0, ""

    @authed
    async def save_edit(self, form_data: dict):
        if not isinstance(form_data, dict) or not self.editing_id:
            raise Invalid()
        message, recipients = await _call(msg_service.edit, self._user_id, self.editing_id,
                                          form_data.get("text"))
        self.editing_id, self.editing_text = 0, ""
        self._replace_message(message)
        hub.fan_out(recipients, _room_event("message_updated", message["room_id"], message=message),
                    skip_token=self.router.session.client_token)

    def _replace_message(self, message: dict) -> None:
        if any(m["id"] == message["id"] for m in self._window_raw):
            self._set_window([message if m["id"] == message["id"] else m for m in self._window_raw])
        last = next((c for c in self.chats if c["room_id"] == message["room_id"]), None)
        if last is not None and last["last_seq"] == message["seq"]:
            self._bump_chat(message)

    @authed
    async def delete_for_me(self, message_id: int):
        gone = await _call(msg_service.delete_for_me, self._user_id, message_id)
        await self._remove_message(gone)
        hub.fan_out([self._user_id], {"type": "message_deleted", **gone},
                    skip_token=self.router.session.client_token)

    @authed
    async def delete_for_all(self, message_id: int):
        gone, recipients = await _call(msg_service.delete_for_everyone, self._user_id, message_id)
        await self._remove_message(gone)
        hub.fan_out(recipients, {"type": "message_deleted", **gone},
                    skip_token=self.router.session.client_token)

    async def _remove_message(self, gone: dict) -> None:
        if gone["room_id"] == self.room_id:
            self._set_window([m for m in self._window_raw if m["id"] != gone["id"]])
        await self._refresh_chat_row(gone["room_id"])

    async def _refresh_chat_row(self, room_id: int) -> None:
        row = await _call(rooms.chat_row, self._user_id, room_id)
        if row is None:
            self.chats = [c for c in self.chats if c["room_id"] != room_id]
            return
        item = views.chat_item(row, self._user_id, views.zone(self._tz), self.lang)
        self.chats = [item if c["room_id"] == room_id else c for c in self.chats]

    @authed
    async def react(self, message_id: int, emoji: str):
        message, recipients = await _call(msg_service.toggle_reaction, self._user_id, message_id, emoji)
        self._replace_message(message)
        hub.fan_out(recipients, _room_event("message_updated", message["room_id"], message=message),
                    skip_token=self.router.session.client_token)

    @authed
    async def delete_chat(self):
        if not self.room_id:
            raise Invalid()
        room_id = self.room_id
        await _call(rooms.delete_chat_for_me, self._user_id, room_id)
        self.room_id, self.messages, self._window_raw = 0, [], []
        self.chats = [c for c in self.chats if c["room_id"] != room_id]
        hub.fan_out([self._user_id], _room_event("chat_hidden", room_id),
                    skip_token=self.router.session.client_token)

    # ----- pushed from other tabs (never callable by a client) -----------
    async def _apply_event(self, event: dict) -> None:
        if not self._user_id:
            return
        kind = event["type"]
        if kind == "signed_out":
            self._forget_user()
            self._clear_view()
            self.signed_out = True
            return
        room_id = event.get("room_id")
        if kind == "message":
            message = event["message"]
            window = self._window_raw
            if room_id == self.room_id and window and message["seq"] > window[-1]["seq"] + 1:
                # A gap: fetch everything we missed, in order.
                for m in await _call(msg_service.after, self._user_id, room_id, window[-1]["seq"]):
                    self._apply_message(m)
            else:
                self._apply_message(message)
            if room_id == self.room_id and message["sender_id"] != self._user_id:
                read_marks.queue(self._user_id, room_id, message["seq"])
            if self._needs_reload:
                self._needs_reload = False
                await self._reload_chats()
        elif kind == "message_updated":
            self._replace_message(event["message"])
        elif kind == "message_deleted":
            await self._remove_message(event)
        elif kind == "read":
            self._set_unread(room_id, 0)
        elif kind == "chat_hidden":
            self.chats = [c for c in self.chats if c["room_id"] != room_id]
            if self.room_id == room_id:
                self.room_id, self.messages, self._window_raw = 0, [], []


hub.set_target(ChatState, ChatState._apply_event)
