"""The open room's message window: settled part, live part from the ring, scrolling back.

The window has three parts on the page:
- `messages` + `messages_tail`: the tab's settled window, up to `settled_seq`
  (shared, read-only bubble dicts from views.message_item);
- `live0..7`: the room's newest messages, broadcast by realtime.live to every
  tab of a worker that shows the room; the server never sets them per tab.
  The page shows the live ones after `settled_seq` that I did not delete for me;
- `pending` (composer.py): my messages not stored yet, or failed.
About every FOLD_LAG messages (or when the ring cannot serve it) a tab folds the
live messages into its settled window ("fold"); a tab following a busy room
"rides" the ring instead (see _ride). See the README's glossary.
"""

from __future__ import annotations

import reflex as rx

from corpchat import views
from corpchat.realtime import hub, live
from corpchat.services import messages, rooms
from corpchat.state.base import authed, in_thread

MAX_WINDOW = 300  # messages held at most after scrolling back (older pages drop the newest)
LIVE_WINDOW = 100  # messages held while following the newest ones
HIDDEN_MAX = 200
TAIL_KEEP = 24  # messages in `messages_tail` after a full re-send of the window
TAIL_MAX = 100  # the tail grows to this before the window is split (and re-sent) again
TRIM_SLACK = 100  # a followed window may grow this far past LIVE_WINDOW before it is cut back


class WindowMixin(rx.State, mixin=True):
    messages: list[views.MessageItem] = []
    messages_tail: list[views.MessageItem] = []
    settled_seq: int = 0
    day_seqs: list[int] = []
    divider_seq: int = 0
    hidden_ids: list[int] = []  # live messages I deleted for me
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

    _settled: tuple = ()  # = messages + messages_tail
    _head_len: int = 0  # len(messages)
    _day_seqs: list = []  # = day_seqs
    _riding: bool = False  # the page shows the ring alone, `messages` is empty (see _ride)

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
            items = [self._item(m) for m in await in_thread(messages.after, self._user_id, self.room_id,
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
            for m in await in_thread(messages.after, self._user_id, self.room_id, reached):
                await hub.republish(m)

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
        await self._emit(await in_thread(rooms.mark_read, self._user_id, self.room_id, seq))

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
        page, more = await in_thread(messages.history, self._user_id, self.room_id, self._settled[0]["seq"])
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
