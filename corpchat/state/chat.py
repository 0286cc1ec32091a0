"""The chat page: chat list, people search, the open room's message window.

Thin by design: each handler authenticates (`@authed`), calls a service in a
worker thread, copies the result into small view vars, then hands the
service's committed change to `realtime.hub` for the other tabs.

Reflex re-sends a whole variable when it changes, so the window is split:
`messages` (settled, re-sent rarely) and `recent` (the newest few plus
messages being sent). A live message only re-sends `recent`; every
RECENT_MAX messages `recent` is folded into `messages`.
"""

from __future__ import annotations

import asyncio
import uuid

import reflex as rx

from corpchat.realtime import hub, read_marks
from corpchat.services import accounts, rooms
from corpchat.services import messages as msg_service
from corpchat.services.errors import Invalid, NotFound, ServiceError
from corpchat.state import views
from corpchat.state.base import AuthState, authed

MAX_WINDOW = 300  # messages held at most after scrolling back (older pages drop the newest)
LIVE_WINDOW = 100  # messages held while following the newest ones
RECENT_MAX = 12


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
    recent: list[views.MessageItem] = []
    has_older: bool = False
    oldest_seq: int = 0
    has_newer: bool = False
    editing_id: int = 0
    editing_text: str = ""

    _tz: str = "UTC"
    _last_read_seq: int = 0
    # The committed service dicts behind the window, oldest first.
    _window_raw: tuple = ()
    _settled: tuple = ()  # = messages
    _chats: tuple = ()  # = chats
    _tail: tuple = ()  # = recent
    _needs_reload: bool = False

    # ----- page lifecycle -------------------------------------------------
    async def load_chat_page(self):
        """on_load of the app shell (also after every reconnect): the guard, then fresh data."""
        if not await self._login_from_cookie():
            self._clear_view()
            return rx.redirect("/login")
        locale = await _call(accounts.get_locale, self._user_id)
        self._use_language(locale or self._browser_language())
        await hub.connect(self._user_id, self.router.session.client_token)
        await self._reload_chats()
        if self.room_id:
            try:
                await self._open(self.room_id)  # a reconnecting tab catches up here
            except ServiceError:
                self._close()
        return rx.call_script("Intl.DateTimeFormat().resolvedOptions().timeZone",
                              callback=ChatState.set_timezone)

    def _clear_view(self) -> None:
        self._set_chats(())
        self.people = []
        self._close()

    def _close(self) -> None:
        self.room_id, self.room_title, self.room_kind = 0, "", ""
        self._window_raw = ()
        self._publish(settled=(), tail=())
        self.editing_id, self.editing_text = 0, ""

    @authed
    async def set_timezone(self, tz: str):
        if not isinstance(tz, str) or len(tz) > 64:
            raise Invalid()
        if tz != self._tz and views.valid_zone(tz):
            self._tz = tz
            await self._reload_chats()
            self._rerender()

    # ----- sidebar --------------------------------------------------------
    def _set_chats(self, items) -> None:
        self._chats = tuple(items)
        self.chats = list(self._chats)

    async def _reload_chats(self) -> None:
        rows = await _call(rooms.chat_list, self._user_id)
        tz = views.zone(self._tz)
        self._set_chats([views.chat_item(r, self._user_id, tz, self.lang) for r in rows])

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
        self._close()

    async def _open(self, room_id) -> None:
        row = await _call(rooms.chat_row, self._user_id, room_id)
        if row is None:  # not a member, or hidden (deleted for me and not written to since)
            self._close()
            raise NotFound()
        page, more = await _call(msg_service.history, self._user_id, row["id"])
        item = views.chat_item(row, self._user_id, views.zone(self._tz), self.lang)
        if item["room_id"] != self.room_id:
            self._publish(tail=())  # pending messages belong to the room they were written in
        self.room_id, self.room_kind = item["room_id"], item["kind"]
        self.room_title, self.room_initials = item["title"], item["initials"]
        self._last_read_seq = int(row.get("last_read_seq") or 0)
        self.has_older, self.has_newer = more, False
        self.editing_id, self.editing_text = 0, ""
        self._window_raw = tuple(page)
        self._rerender()
        if page:
            await self._mark_read(page[-1]["seq"])

    # ----- the window -----------------------------------------------------
    # Backend tuples mirror the public lists: reading a tuple does not wrap every
    # item in a change-tracking proxy, which dominated the cost of a push.
    def _publish(self, settled: tuple | None = None, tail: tuple | None = None) -> None:
        if settled is not None:
            self._settled = settled
            self.messages = list(settled)
            self.oldest_seq = self._window_raw[0]["seq"] if self._window_raw else 0
        if tail is not None:
            self._tail = tail
            self.recent = list(tail)

    def _pending(self) -> tuple:
        return tuple(m for m in self._tail if m["status"] != "sent")

    def _item(self, raw: dict) -> dict:
        return views.message_item(raw, self._user_id, views.zone(self._tz), self.lang)

    def _rerender(self) -> None:
        """Render the whole window into `messages`; `recent` keeps only unsent messages."""
        items = views.lay_out([self._item(m) for m in self._window_raw], self._last_read_seq, self._user_id)
        self._publish(settled=tuple(items), tail=self._pending())

    def _append(self, raw: dict) -> None:
        """A committed message after everything in the window: re-send only `recent`."""
        window = self._window_raw + (raw,)
        if len(window) > LIVE_WINDOW:
            window = window[-LIVE_WINDOW:]
            self.has_older = True
        self._window_raw = window
        item = self._item(raw)
        committed = tuple(m for m in self._tail if m["status"] == "sent")
        previous = committed[-1] if committed else (self._settled[-1] if self._settled else None)
        item["show_day"] = previous is None or previous["day"] != item["day"]
        # Fold the tail into the settled part (formatting nothing again) at a per-user point
        # between RECENT_MAX/2 and RECENT_MAX: the members of a busy group then re-send their
        # big `messages` list at different messages instead of all at the same one.
        if len(committed) >= RECENT_MAX - self._user_id % (RECENT_MAX // 2 + 1):
            settled = (self._settled + committed)[-(LIVE_WINDOW - 1):]
            if settled and not settled[0]["show_day"]:
                settled = ({**settled[0], "show_day": True},) + settled[1:]
            self._publish(settled=settled, tail=(item,) + self._pending())
        else:
            self._publish(tail=committed + (item,) + self._pending())

    def _insert(self, raw: dict) -> None:
        """Put a committed message of the open room in place (idempotent by id)."""
        if self.has_newer:
            return  # reading old history; "jump to latest" reloads
        window = self._window_raw
        if not window or raw["seq"] > window[-1]["seq"]:
            self._append(raw)  # seq is unique in a room: a message after the window is not in it
        elif any(m["id"] == raw["id"] for m in window):
            self._replace(raw)
        else:
            self._window_raw = tuple(sorted(window + (raw,), key=lambda m: m["seq"]))
            self._rerender()

    def _replace(self, raw: dict) -> None:
        if not any(m["id"] == raw["id"] for m in self._window_raw):
            return
        self._window_raw = tuple(raw if m["id"] == raw["id"] else m for m in self._window_raw)
        for part in ("tail", "settled"):
            items = self._tail if part == "tail" else self._settled
            for i, old in enumerate(items):
                if old["id"] == raw["id"] and old["status"] == "sent":
                    new = {**self._item(raw), "show_day": old["show_day"], "new_divider": old["new_divider"]}
                    self._publish(**{part: items[:i] + (new,) + items[i + 1:]})
                    return

    def _drop(self, message_id: int) -> None:
        if any(m["id"] == message_id for m in self._window_raw):
            self._window_raw = tuple(m for m in self._window_raw if m["id"] != message_id)
            self._rerender()

    def _all_items(self) -> tuple:
        return self._settled + self._tail

    async def _mark_read(self, seq: int) -> None:
        await _call(rooms.mark_read, self._user_id, self.room_id, seq)
        self._set_unread(self.room_id, 0)
        hub.fan_out([self._user_id], _room_event("read", self.room_id, seq=seq),
                    skip_token=self.router.session.client_token)

    def _set_unread(self, room_id: int, n: int) -> None:
        chats = list(self._chats)
        for i, c in enumerate(chats):
            if c["room_id"] == room_id and c["unread"] != n:
                chats[i] = {**c, "unread": n, "unread_label": views.unread_label(n)}
                self._set_chats(chats)
                return

    @authed
    async def top_in_view(self, visible: bool):
        """Scrolling up to the top of the window loads the page before it."""
        if visible is True and self.has_older:
            await self._load_older()

    @authed
    async def load_older(self):
        await self._load_older()

    async def _load_older(self) -> None:
        window = self._window_raw
        if not self.room_id or not window:
            return
        page, more = await _call(msg_service.history, self._user_id, self.room_id, window[0]["seq"])
        combined = list(page) + list(window)
        if len(combined) > MAX_WINDOW:
            combined = combined[:MAX_WINDOW]
            self.has_newer = True
        self.has_older = more
        self._window_raw = tuple(combined)
        self._rerender()

    @authed
    async def jump_to_latest(self):
        if self.room_id:
            await self._open(self.room_id)

    # ----- sending ----------------------------------------------------------
    @authed
    async def send_message(self, form_data: dict):
        if not isinstance(form_data, dict) or not self.room_id:
            raise Invalid()
        body, client_id = form_data.get("text"), form_data.get("client_id") or uuid.uuid4().hex
        body = msg_service.check_text(body)  # refuse empty/too long before showing "sending…"
        msg_service.check_client_id(client_id)
        self._publish(tail=self._tail + (views.pending_item(body, client_id, self._user_id, self.room_id),))
        yield
        async for update in self._deliver(self.room_id, body, client_id):
            yield update

    @authed
    async def retry(self, client_id: str):
        failed = [m for m in self._tail if m["client_id"] == client_id and m["status"] == "failed"]
        if not isinstance(client_id, str) or not failed:
            raise Invalid()
        self._set_status(client_id, "sending")
        yield
        async for update in self._deliver(failed[0]["room_id"], failed[0]["text"], client_id):
            yield update

    def _set_status(self, client_id: str, status: str) -> None:
        self._publish(tail=tuple({**m, "status": status} if m["client_id"] == client_id and m["status"] != "sent"
                                 else m for m in self._tail))

    def _unpend(self, client_id: str) -> None:
        self._publish(tail=tuple(m for m in self._tail if m["client_id"] != client_id or m["status"] == "sent"))

    async def _deliver(self, room_id: int, body: str, client_id: str):
        try:
            message, recipients, created = await _call(
                msg_service.send, self._user_id, room_id, body, client_id)
        except ServiceError as exc:  # refused (not a member, blocked…): nothing to retry
            self._unpend(client_id)
            yield rx.toast.error(self._t(exc.key, **exc.params))
            return
        except Exception:  # not stored (database down…): keep it, offer a retry
            self._set_status(client_id, "failed")
            yield rx.toast.error(self._t("err.send_failed"))
            return
        self._unpend(client_id)
        self._apply_message(message)
        if created:
            hub.fan_out(recipients, _room_event("message", room_id, message=message),
                        skip_token=self.router.session.client_token)

    def _apply_message(self, message: dict) -> None:
        if message["room_id"] == self.room_id:
            self._insert(message)
        self._bump_chat(message)

    def _bump_chat(self, message: dict) -> None:
        room_id = message["room_id"]
        existing = next((c for c in self._chats if c["room_id"] == room_id), None)
        if existing is None:
            self._needs_reload = True
            return
        mine = message["sender_id"] == self._user_id
        new = message["seq"] > existing["last_seq"]
        unread = 0 if (mine or room_id == self.room_id) else existing["unread"] + (1 if new else 0)
        item = views.chat_item_after_message(existing, message, unread, self._user_id,
                                             views.zone(self._tz), self.lang)
        others = [c for c in self._chats if c["room_id"] != room_id]
        self._set_chats([item] + others if new else [item if c["room_id"] == room_id else c for c in self._chats])

    # ----- edit / delete / react ------------------------------------------
    def _own_text(self, message_id=None) -> dict | None:
        own = [m for m in self._all_items() if m["mine"] and m["kind"] == "text" and m["status"] == "sent"
               and (message_id is None or m["id"] == message_id)]
        return own[-1] if own else None

    @authed
    async def start_edit(self, message_id: int):
        if type(message_id) is not int:
            raise Invalid("err.not_editable")
        target = self._own_text(message_id)
        if target is None:
            raise Invalid("err.not_editable")
        self.editing_id, self.editing_text = target["id"], target["text"]

    @authed
    async def composer_key(self, key: str, field_empty: bool):
        """Up in an empty composer edits my last text message."""
        if key == "ArrowUp" and field_empty is True:
            target = self._own_text()
            if target is not None:
                self.editing_id, self.editing_text = target["id"], target["text"]

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
        self._changed(message)
        hub.fan_out(recipients, _room_event("message_updated", message["room_id"], message=message),
                    skip_token=self.router.session.client_token)

    def _changed(self, message: dict) -> None:
        """An edit or a reaction: the bubble, and the chat preview if it is the last message."""
        self._replace(message)
        chat = next((c for c in self._chats if c["room_id"] == message["room_id"]), None)
        if chat is not None and chat["last_seq"] == message["seq"]:
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
            self._drop(gone["id"])
        chat = next((c for c in self._chats if c["room_id"] == gone["room_id"]), None)
        # The preview (it was the last message) or the unread count may have changed.
        if chat is not None and (chat["last_seq"] <= gone["seq"] or chat["unread"]):
            await self._refresh_chat_row(gone["room_id"])

    async def _refresh_chat_row(self, room_id: int) -> None:
        row = await _call(rooms.chat_row, self._user_id, room_id)
        if row is None:
            self._set_chats([c for c in self._chats if c["room_id"] != room_id])
            return
        item = views.chat_item(row, self._user_id, views.zone(self._tz), self.lang)
        self._set_chats([item if c["room_id"] == room_id else c for c in self._chats])

    @authed
    async def react(self, message_id: int, emoji: str):
        message, recipients = await _call(msg_service.toggle_reaction, self._user_id, message_id, emoji)
        self._changed(message)
        hub.fan_out(recipients, _room_event("message_updated", message["room_id"], message=message),
                    skip_token=self.router.session.client_token)

    @authed
    async def delete_chat(self):
        if not self.room_id:
            raise Invalid()
        room_id = self.room_id
        await _call(rooms.delete_chat_for_me, self._user_id, room_id)
        self._close()
        self._set_chats([c for c in self._chats if c["room_id"] != room_id])
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
            await self._receive(event["message"])
        elif kind == "message_updated":
            self._changed(event["message"])
        elif kind == "message_deleted":
            await self._remove_message(event)
        elif kind == "read":
            self._set_unread(room_id, 0)
        elif kind == "chat_hidden":
            self._set_chats([c for c in self._chats if c["room_id"] != room_id])
            if self.room_id == room_id:
                self._close()

    async def _receive(self, message: dict) -> None:
        room_id = message["room_id"]
        window = self._window_raw
        if room_id == self.room_id and window and message["seq"] > window[-1]["seq"] + 1 and not self.has_newer:
            # A gap (a push was lost or overtaken): fetch everything after what we have, in order.
            for m in await _call(msg_service.after, self._user_id, room_id, window[-1]["seq"]):
                self._apply_message(m)
        else:
            self._apply_message(message)
        if room_id == self.room_id and message["sender_id"] != self._user_id:
            read_marks.queue(self._user_id, room_id, message["seq"])
        if self._needs_reload:
            self._needs_reload = False
            await self._reload_chats()


hub.set_target(ChatState, ChatState._apply_event)
