"""The chat page: chat list, people search, the open room's message window.

Thin by design: each handler authenticates (`@authed`), calls a service in a
worker thread, copies the result into small view vars, then hands the
service's committed change to `realtime.hub` for the other tabs.

The open room's window has three parts on the page:
- `messages`: the tab's settled window, up to `settled_seq` (shared,
  read-only bubble dicts from views.message_item);
- `live0..7`: the room's newest messages, broadcast by realtime.live to every
  tab of a worker that shows the room; the server never sets them per tab.
  The page shows the live ones after `settled_seq` that I did not delete for me;
- `pending`: my messages not stored within SENDING_AFTER ("sending…"), or failed
  (with Retry); a quick send shows up through the broadcast alone.
About every FOLD_LAG messages (or when the ring cannot serve it) a tab folds the
live messages into its settled window ("fold").
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import reflex as rx

from corpchat.realtime import hub, live, read_marks
from corpchat.services import accounts, rooms
from corpchat.services import messages as msg_service
from corpchat.services.errors import Invalid, NotFound, ServiceError
from corpchat.state import views
from corpchat.state.base import AuthState, authed

MAX_WINDOW = 300  # messages held at most after scrolling back (older pages drop the newest)
LIVE_WINDOW = 100  # messages held while following the newest ones
HIDDEN_MAX = 200
TAIL_KEEP = 24  # messages in `messages_tail` after a full re-send of the window
TAIL_MAX = 100  # the tail grows to this before the window is split (and re-sent) again
TRIM_SLACK = 100  # a followed window may grow this far past LIVE_WINDOW before it is cut back
TOP_MAX = 20  # moved-up chats kept apart before the whole list is re-sent once
SENDING_AFTER = 0.03  # s: a send not stored by then is shown as "sending…"


def _room_event(kind: str, room_id: int, **data) -> dict:
    return {"type": kind, "room_id": room_id, **data}


async def _call(fn, *args):
    """Services are synchronous (SQLAlchemy); keep the event loop free."""
    return await asyncio.to_thread(fn, *args)


class ChatState(AuthState):
    # The chat list is shown as `chats_top` (chats moved up since the list was loaded, newest
    # first) followed by `chats` without those in `top_ids`: a new message then re-sends a few
    # entries, not every chat of a user with hundreds (107 KB at 500 chats).
    chats: list[views.ChatItem] = []
    chats_top: list[views.ChatItem] = []
    top_ids: list[int] = []
    people: list[views.PersonItem] = []
    people_query: str = ""
    sidebar_tab: str = "chats"

    room_id: int = 0
    room_title: str = ""
    room_initials: str = ""
    room_kind: str = ""
    my_id: int = 0
    messages: list[views.MessageItem] = []
    messages_tail: list[views.MessageItem] = []
    settled_seq: int = 0
    day_seqs: list[int] = []
    divider_seq: int = 0
    hidden_ids: list[int] = []  # live messages I deleted for me
    pending: list[views.MessageItem] = []
    # Set only by realtime.live's broadcasts (see the module docstring); one per ring chunk.
    live0: list[views.MessageItem] = []
    live1: list[views.MessageItem] = []
    live2: list[views.MessageItem] = []
    live3: list[views.MessageItem] = []
    live4: list[views.MessageItem] = []
    live5: list[views.MessageItem] = []
    live6: list[views.MessageItem] = []
    live7: list[views.MessageItem] = []
    live_order: list[int] = []
    live_room: int = 0
    has_older: bool = False
    oldest_seq: int = 0
    has_newer: bool = False
    editing_id: int = 0
    editing_text: str = ""

    _tz: str = "UTC"
    # Backend tuples mirror the public lists: reading a tuple does not wrap every
    # item in a change-tracking proxy, which dominated the cost of a push.
    _settled: tuple = ()  # = messages + messages_tail
    _head_len: int = 0  # len(messages)
    _day_seqs: list = []  # = day_seqs
    _chats: tuple = ()  # the whole list in display order (chats_top, then the rest of chats)
    _rest: tuple = ()  # = chats
    _pending: tuple = ()  # = pending
    _tab_token: str = ""
    _riding: bool = False  # the page shows the ring alone, `messages` is empty (see _ride)

    # ----- page lifecycle -------------------------------------------------
    async def load_chat_page(self):
        """on_load of the app shell (also after every reconnect): the guard, then fresh data."""
        if not await self._login_from_cookie():
            await self._clear_view()
            return rx.redirect("/login")
        self.my_id = self._user_id
        locale = await _call(accounts.get_locale, self._user_id)
        self._use_language(locale or self._browser_language())
        await hub.connect(self._user_id, self._tab())
        await self._reload_chats()
        if self.room_id:
            try:
                await self._open(self.room_id)  # a reconnecting tab catches up here
            except ServiceError:
                await self._close()
        return rx.call_script("Intl.DateTimeFormat().resolvedOptions().timeZone",
                              callback=ChatState.set_timezone)

    def _tab(self) -> str:
        # The token is the state's own key: read once (the router is costly to reach on a push).
        if not self._tab_token:
            self._tab_token = self.router.session.client_token
        return self._tab_token

    async def _clear_view(self) -> None:
        self._set_chats(())
        self.people = []
        self.my_id = 0
        await self._close()

    async def _close(self) -> None:
        await live.leave(self._tab())
        self._riding = False
        self.room_id, self.room_title, self.room_kind = 0, "", ""
        self._set_settled(())
        self._set_pending(())
        self.hidden_ids, self.divider_seq = [], 0
        self.editing_id, self.editing_text = 0, ""

    @authed
    async def set_timezone(self, tz: str):
        if not isinstance(tz, str) or len(tz) > 64:
            raise Invalid()
        if tz != self._tz and views.valid_zone(tz):
            self._tz = tz
            await self._reload_chats()
            if self.room_id:
                await self._open(self.room_id)  # bubbles in the new zone, from that zone's ring

    # ----- sidebar --------------------------------------------------------
    def _set_chats(self, items) -> None:
        """The whole list, re-sent (loading, removing, changing an entry below the top)."""
        self._chats = self._rest = tuple(items)
        self.chats = list(self._rest)
        if self.top_ids:
            self.chats_top, self.top_ids = [], []

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

    async def _reload_chats(self) -> None:
        rows = await _call(rooms.chat_list, self._user_id)
        tz, now = views.zone(self._tz), datetime.now(UTC)
        self._set_chats([views.chat_item(r, self._user_id, tz, self.lang, now) for r in rows])

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
        await self._close()

    async def _open(self, room_id) -> None:
        row = await _call(rooms.chat_row, self._user_id, room_id)
        if row is None:  # not a member, or hidden (deleted for me and not written to since)
            await self._close()
            raise NotFound()
        # Join the room's broadcast BEFORE reading the history: see live.join.
        await live.join(self._tab(), self._user_id, row["id"], self._tz, self.lang)
        page, more = await _call(msg_service.history, self._user_id, row["id"])
        item = views.chat_item(row, self._user_id, views.zone(self._tz), self.lang)
        if item["room_id"] != self.room_id:
            self._set_pending(())  # pending messages belong to the room they were written in
        self.room_id, self.room_kind = item["room_id"], item["kind"]
        self.room_title, self.room_initials = item["title"], item["initials"]
        self.has_older, self.has_newer = more, False
        self.editing_id, self.editing_text = 0, ""
        self.hidden_ids = []
        self._riding = False
        settled = tuple(self._item(m) for m in page)
        self._set_settled(settled)
        # Messages up to the room's last seq as read above are in this history or hidden for me
        # (deleted for me, cleared): the ring must not show them again.
        self.settled_seq = max(self.settled_seq, int(row.get("last_seq") or 0))
        self.divider_seq = views.first_unread(settled, int(row.get("last_read_seq") or 0), self._user_id)
        live.seeded(self._tab(), self.settled_seq, settled[-1]["day"] if settled else "")
        if page:
            await self._mark_read(page[-1]["seq"])

    # ----- the window -----------------------------------------------------
    def _set_settled(self, settled: tuple) -> None:
        """The settled window goes out as `messages` (head) + `messages_tail`: a change near the
        end (a reaction, a fold) re-sends the tail, not the whole window (40 KB per tab)."""
        head = self._head_len
        same_head = (0 < head <= len(settled) and len(settled) - head <= TAIL_MAX
                     and all(a is b for a, b in zip(settled[:head], self._settled[:head])))
        if not same_head:
            head = max(0, len(settled) - TAIL_KEEP)
            self._head_len = head
            self.messages = list(settled[:head])
        self.messages_tail = list(settled[head:])
        self._settled = settled
        days = views.day_starts(settled)
        if days != self._day_seqs:
            self._day_seqs = self.day_seqs = days
        self.oldest_seq = settled[0]["seq"] if settled else 0
        if not self.has_newer:
            self.settled_seq = settled[-1]["seq"] if settled else 0

    def _set_pending(self, pending: tuple) -> None:
        self._pending = pending
        self.pending = list(pending)

    def _item(self, raw: dict) -> dict:
        return views.message_item(raw, views.zone(self._tz), self.lang)

    def _live_items(self) -> list[dict]:
        """The live messages this tab shows (after its settled window, not deleted for me)."""
        ring = live.ring_of(self._tab())
        if ring is None or ring.room_id != self.room_id or self.has_newer:
            return []
        hidden = set(self.hidden_ids)
        return [m for m in ring.items() if m["seq"] > self.settled_seq and m["id"] not in hidden]

    async def _fold(self, strict: bool = False) -> None:
        """Move the live messages into the settled window: from the ring while it has them in an
        unbroken run, else from the database. A gap is usually a message still on its way
        (concurrent senders overtake each other): the run up to it is folded now, the rest
        next time; `strict` (a second after the arrivals) reads past any gap from the database."""
        if not self.room_id or self.has_newer:
            return
        if self._riding:
            if strict:
                await self._repair_ring()
            return
        items = live.items_after(self._tab(), self.settled_seq)
        ring = live.ring_of(self._tab())
        reached = items[-1]["seq"] if items else self.settled_seq
        stuck = not items if not strict else reached < (ring.newest if ring else 0)
        if items is None or (stuck and ring is not None and ring.newest > self.settled_seq):
            items = [self._item(m) for m in await _call(msg_service.after, self._user_id, self.room_id,
                                                        self.settled_seq)]
            from_ring = False
        else:
            from_ring = True
        hidden = set(self.hidden_ids)
        kept = [m for m in items if m["id"] not in hidden]
        if kept:
            settled = self._settled + tuple(kept)
            if len(settled) > LIVE_WINDOW + TRIM_SLACK:  # cut back now and then, not at every fold
                if from_ring and self._ride(kept[-1]["seq"]):
                    return
                settled = settled[-LIVE_WINDOW:]
                self.has_older = True
            self._set_settled(settled)
        if hidden & {m["id"] for m in items}:  # left out of the window for good
            self.hidden_ids = [i for i in self.hidden_ids if i not in {m["id"] for m in items}]
        live.folded(self._tab(), self.settled_seq)

    def _ride(self, reached: int) -> bool:
        """Instead of cutting the window back: show the ring alone if it holds the newest
        LIVE_WINDOW messages and everything up to `reached` in an unbroken run (see live.ride).
        The view is the same; from now on this tab has nothing of its own to fold."""
        run = live.run(self._tab())
        if not run or len(run) < LIVE_WINDOW or run[-1]["seq"] < reached:
            return False
        self._riding = True
        self._set_settled(())
        self.settled_seq = run[0]["seq"] - 1
        self.has_older = True
        live.ride(self._tab())
        return True

    async def _land(self) -> None:
        """Stop riding: what the ring shows becomes the settled window (scrolling back needs one)."""
        run = live.run(self._tab())
        if run is None:  # the ring is gone (left, reconnected): read the room afresh
            await self._open(self.room_id)
            return
        self._riding = False
        hidden = set(self.hidden_ids)
        self._set_settled(tuple(m for m in run if m["id"] not in hidden))
        live.folded(self._tab(), self.settled_seq)

    async def _repair_ring(self) -> None:
        """A riding tab's ring misses a message for over a second (lost on its way from another
        worker): read it from the database into the ring, for every viewer."""
        ring, run = live.ring_of(self._tab()), live.run(self._tab())
        if ring is None or run is None:
            return
        reached = run[-1]["seq"] if run else ring.floor
        if reached < ring.newest:
            for m in await _call(msg_service.after, self._user_id, self.room_id, reached):
                await hub.publish(m)

    def _shows_all(self, seq: int) -> bool:
        """Whether the page shows every message of the open room up to seq (settled + live run)."""
        if self._riding:
            run = live.run(self._tab())
            return bool(run) and seq <= run[-1]["seq"]
        items = live.items_after(self._tab(), self.settled_seq)
        if items is None:
            return seq <= self.settled_seq
        return seq <= (items[-1]["seq"] if items else self.settled_seq)

    def _replace(self, raw: dict) -> None:
        """An edited or reacted-to message of the settled window gets its new bubble."""
        for i, old in enumerate(self._settled):
            if old["id"] == raw["id"]:
                self._set_settled(self._settled[:i] + (self._item(raw),) + self._settled[i + 1:])
                return

    def _drop(self, message_id: int) -> None:
        if any(m["id"] == message_id for m in self._settled):
            self._set_settled(tuple(m for m in self._settled if m["id"] != message_id))
        elif message_id not in self.hidden_ids:
            self.hidden_ids = (self.hidden_ids + [message_id])[-HIDDEN_MAX:]

    async def _mark_read(self, seq: int) -> None:
        await _call(rooms.mark_read, self._user_id, self.room_id, seq)
        self._set_unread(self.room_id, 0)
        hub.fan_out([self._user_id], _room_event("read", self.room_id, seq=seq), skip_token=self._tab())

    def _set_unread(self, room_id: int, n: int) -> None:
        for c in self._chats:
            if c["room_id"] == room_id and c["unread"] != n:
                self._put_chat({**c, "unread": n, "unread_label": views.unread_label(n)}, to_top=False)
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
        if self.room_id and self._riding:
            await self._land()
        if not self.room_id or not self._settled:
            return
        await self._fold()  # the live part joins the window before it can be cut from the bottom
        page, more = await _call(msg_service.history, self._user_id, self.room_id, self._settled[0]["seq"])
        combined = tuple(self._item(m) for m in page) + self._settled
        if len(combined) > MAX_WINDOW:
            combined = combined[:MAX_WINDOW]
            self.has_newer = True  # the newest messages are cut off: the live part is hidden too
        self.has_older = more
        self._set_settled(combined)

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
        room_id = self.room_id
        sending = asyncio.ensure_future(msg_service.send_async(self._user_id, room_id, body, client_id))
        # Usually stored within milliseconds: then the broadcast alone shows it (two frames
        # fewer per message); a slow one is shown as "sending…" meanwhile.
        done, _ = await asyncio.wait({sending}, timeout=SENDING_AFTER)
        if not done:
            self._set_pending(self._pending + (views.pending_item(body, client_id, self._user_id, room_id),))
            yield
        async for update in self._deliver(room_id, body, client_id, sending):
            yield update

    @authed
    async def retry(self, client_id: str):
        failed = [m for m in self._pending if m["client_id"] == client_id and m["status"] == "failed"]
        if not isinstance(client_id, str) or not failed:
            raise Invalid()
        self._set_status(client_id, "sending")
        yield
        async for update in self._deliver(failed[0]["room_id"], failed[0]["text"], client_id):
            yield update

    def _set_status(self, client_id: str, status: str) -> None:
        self._set_pending(tuple({**m, "status": status} if m["client_id"] == client_id else m
                                for m in self._pending))

    def _unpend(self, client_id: str) -> None:
        self._set_pending(tuple(m for m in self._pending if m["client_id"] != client_id))

    async def _deliver(self, room_id: int, body: str, client_id: str, sending=None):
        """Finish a send (`sending`: the send already under way, else a new one)."""
        shown = any(m["client_id"] == client_id for m in self._pending)
        try:
            message, recipients, created = await (
                sending or msg_service.send_async(self._user_id, room_id, body, client_id))
        except ServiceError as exc:  # refused (not a member, blocked…): nothing to retry
            self._unpend(client_id)
            yield rx.toast.error(self._t(exc.key, **exc.params))
            return
        except Exception:  # not stored (database down…): keep it, offer a retry
            if not shown:
                self._set_pending(self._pending + (views.pending_item(body, client_id, self._user_id, room_id),))
            self._set_status(client_id, "failed")
            yield rx.toast.error(self._t("err.send_failed"))
            return
        if shown:
            # "sending…" goes first (its own frame), then the broadcast shows the stored message
            # to every viewer, this tab included: never two copies of it on the page.
            self._unpend(client_id)
            yield
        await hub.publish(message)
        if live.viewing(self._tab()) != room_id:
            await self._fold()  # no broadcast reaches this tab: read it in
        if created:
            # This tab too: its chat list moves with the others' (coalesced, see hub.VIEWER_DELAY),
            # so a send does not re-send the whole chat list.
            hub.fan_out(recipients, _room_event("message", room_id, message=message))

    def _bump_chat(self, message: dict, unread: int | None = None) -> None:
        """Move the chat to the top with `message` as its preview (or just refresh the preview)."""
        room_id = message["room_id"]
        existing = next((c for c in self._chats if c["room_id"] == room_id), None)
        if existing is None:
            return  # a chat this list does not show yet comes with the next reload (see _receive)
        mine = message["sender_id"] == self._user_id
        new = message["seq"] > existing["last_seq"]
        if unread is None:
            unread = 0 if mine else existing["unread"] + (1 if new else 0)
        if room_id == self.room_id:
            unread = 0
        item = views.chat_item_after_message(existing, message, unread, self._user_id,
                                             views.zone(self._tz), self.lang)
        self._put_chat(item, to_top=new)

    # ----- edit / delete / react ------------------------------------------
    def _own_text(self, message_id=None) -> dict | None:
        own = [m for m in self._settled + tuple(self._live_items())
               if m["sender_id"] == self._user_id and m["kind"] == "text"
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
        await hub.publish(message)
        self._changed(message)
        hub.fan_out(recipients, _room_event("message_updated", message["room_id"], message=message),
                    skip_token=self._tab())

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
        hub.fan_out([self._user_id], {"type": "message_deleted", **gone}, skip_token=self._tab())

    @authed
    async def delete_for_all(self, message_id: int):
        gone, recipients = await _call(msg_service.delete_for_everyone, self._user_id, message_id)
        await hub.unpublish(gone["room_id"], gone["seq"], gone["id"])
        await self._remove_message(gone)
        hub.fan_out(recipients, {"type": "message_deleted", **gone}, skip_token=self._tab())

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
        self._put_chat(views.chat_item(row, self._user_id, views.zone(self._tz), self.lang), to_top=False)

    @authed
    async def react(self, message_id: int, emoji: str):
        message, recipients = await _call(msg_service.toggle_reaction, self._user_id, message_id, emoji)
        await hub.publish(message)
        self._changed(message)
        # Only a tab showing the room shows reactions (a chat-list preview has none).
        hub.fan_out(recipients, _room_event("message_updated", message["room_id"], message=message,
                                            viewers_only=True), skip_token=self._tab())

    @authed
    async def delete_chat(self):
        if not self.room_id:
            raise Invalid()
        room_id = self.room_id
        await _call(rooms.delete_chat_for_me, self._user_id, room_id)
        await self._close()
        self._set_chats([c for c in self._chats if c["room_id"] != room_id])
        hub.fan_out([self._user_id], _room_event("chat_hidden", room_id), skip_token=self._tab())

    # ----- pushed from other tabs (never callable by a client) -----------
    async def _apply_event(self, event: dict) -> None:
        if not self._user_id:
            return
        kind = event["type"]
        if kind == "signed_out":
            self._forget_user()
            await self._clear_view()
            self.signed_out = True
            return
        room_id = event.get("room_id")
        if kind == "messages":
            await self._receive(room_id, event["messages"])
        elif kind == "fold":
            if room_id == self.room_id:
                await self._fold()
        elif kind == "message_updated":
            self._changed(event["message"])
        elif kind == "message_deleted":
            await self._remove_message(event)
        elif kind == "read":
            self._set_unread(room_id, 0)
        elif kind == "chat_hidden":
            self._set_chats([c for c in self._chats if c["room_id"] != room_id])
            if self.room_id == room_id:
                await self._close()

    async def _receive(self, room_id: int, messages: list[dict]) -> None:
        """Others' new messages in one room, oldest first (delivered late on purpose: the open
        chat showed them already through the broadcast). A busy group piles up hundreds here:
        one pass, with the user id read once (a state field read costs a descriptor call)."""
        me, newest = self._user_id, messages[-1]
        if room_id == self.room_id and not self._shows_all(newest["seq"]):
            await self._fold(strict=True)  # the broadcast missed some (or started too late)
        mine_last = theirs_last = 0
        for m in messages:
            if m["sender_id"] == me:
                mine_last = m["seq"]
            else:
                theirs_last = m["seq"]
        chat = next((c for c in self._chats if c["room_id"] == room_id), None)
        if chat is None:
            await self._reload_chats()
        else:
            # Sending marks the chat read (in another tab of mine): count only what came after.
            since = max(chat["last_seq"], mine_last)
            unread = (0 if mine_last else chat["unread"]) + sum(
                1 for m in messages if m["seq"] > since and m["sender_id"] != me)
            self._bump_chat(newest, unread=unread)
        if room_id == self.room_id and theirs_last:
            read_marks.queue(me, room_id, theirs_last)


hub.set_target(ChatState, ChatState._apply_event)
