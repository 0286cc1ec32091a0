"""The newest messages of each open room, kept once per worker and broadcast to every tab showing it.

Why: changing each viewer's own state for every message costs Reflex about
0.3 ms per tab (state lock, delta, encoding one frame per tab), which capped a
200-member group at ~60 ms per message and a busy worker at ~3,000 deliveries/s.

Here the newest messages of a room live in a ring of CHUNKS small lists
("chunks" of CHUNK messages by seq). A new, edited or deleted message changes
one chunk; that chunk is encoded ONCE and sent with one Socket.IO room emit to
every tab of this worker that has the room open (all tabs in one ring share
time zone and language, so the formatted bubbles are the same for all of them).
On the wire it is an ordinary Reflex delta for ChatState's `live*` vars, which
the server never sets for a tab: a tab's own deltas cannot overwrite them.

Each tab still keeps its "settled" window (`messages`, up to `settled_seq`);
the page shows live items with a larger seq. Before the ring reuses a chunk a
tab still needs, the tab folds the ring into its settled window ("fold" event,
see ChatState), about once per FOLD_LAG messages. Messages a ring never saw
(another worker's pub/sub lost, a ring created late) are caught by the fold,
which falls back to the database when the ring does not cover the range.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import zlib
from dataclasses import dataclass, field

from corpchat.state import views

log = logging.getLogger(__name__)

CHUNKS = 8
CHUNK = 16
COVER = CHUNKS * CHUNK
# A viewer about this far behind the newest message folds now, well before the ring reuses
# the chunk that holds its oldest live message (a later fold still works, from the database).
FOLD_LAG = COVER // 2
FIELD = "_rx_state_"  # Reflex's suffix of a state field on the wire
# While a room is busy its broadcasts go out at most this often (messages in between share
# one frame per tab); an idle room's next message goes out at once.
BROADCAST_GAP = 0.004
# A tab's entry in Ring.viewers: its settled seq, or one of these (never asked to fold).
NOT_SEEDED = -1
RIDING = -2  # shows the ring alone (see ride)


def chunk_var(i: int) -> str:
    return f"live{i}"


@functools.lru_cache(maxsize=1 << 16)
def spread(token: str) -> float:
    """0 .. 1, fixed per tab: the members of a group that all got the same message (or reached
    the fold point together) must not all change their state in the same instant, a burst the
    next message would wait behind (hub's delays, fold_lag)."""
    return zlib.crc32(token.encode()) % 1000 / 1000


def fold_lag(token: str) -> int:
    """FOLD_LAG .. 3*FOLD_LAG/2 - 1 (below COVER - CHUNK, what the ring holds at least): a 200-member
    group's folds at the same message held the next one up for 150-200 ms."""
    return FOLD_LAG + int(spread(token) * (FOLD_LAG // 2))


@dataclass(eq=False)
class Ring:
    room_id: int
    tz: str
    lang: str
    name: str
    last_day: str = ""  # the day of the newest message before the ring started (seeded by the first viewer)
    chunks: list[tuple] = field(default_factory=lambda: [()] * CHUNKS)
    bases: list[int] = field(default_factory=lambda: [-1] * CHUNKS)
    seen: set[int] = field(default_factory=set)  # seqs this ring has seen (also deleted ones)
    # Messages up to `floor` are in every viewer's settled window: the ring ignores them.
    # None until the first viewer has read its history (join comes first, so nothing is missed).
    floor: int | None = None
    newest: int = 0
    viewers: dict[str, int] = field(default_factory=dict)  # tab token -> its settled seq as last known
    dirty: set[int] = field(default_factory=set)  # chunks changed since the last broadcast
    flush_due: bool = False
    last_flush: float = float("-inf")  # loop time

    # ----- content -----------------------------------------------------
    def order(self) -> list[int]:
        return sorted((i for i in range(CHUNKS) if self.bases[i] >= 0), key=lambda i: self.bases[i])

    def items(self) -> list[dict]:
        return [m for i in self.order() for m in self.chunks[i]]

    def _slot(self, seq: int) -> int | None:
        """The chunk for seq, emptied first if it held an older range; None if seq is too old."""
        i, base = (seq // CHUNK) % CHUNKS, seq - seq % CHUNK
        if self.bases[i] > base:
            return None
        if self.bases[i] < base:
            self.chunks[i], self.bases[i] = (), base
            oldest = base - (CHUNKS - 1) * CHUNK
            self.seen = {s for s in self.seen if s >= oldest}
            self.floor = max(self.floor or 0, oldest - 1)
        return i

    def _neighbour(self, seq: int, step: int) -> dict | None:
        """The ring's message just before (step -1) or after (step +1) seq, looking chunk by chunk."""
        i, base = (seq // CHUNK) % CHUNKS, seq - seq % CHUNK
        for _ in range(CHUNKS):
            if self.bases[i] == base:
                near = [m for m in self.chunks[i] if (m["seq"] - seq) * step > 0]
                if near:
                    return near[-1] if step < 0 else near[0]
            elif self.bases[i] > base if step < 0 else self.bases[i] < base:
                return None  # wrapped past the ring's ends
            base += step * CHUNK
            i = (i + step) % CHUNKS
        return None

    def _previous_day(self, seq: int) -> str:
        prev = self._neighbour(seq, -1)
        return prev["day"] if prev else self.last_day

    def upsert(self, raw: dict) -> list[int]:
        """Insert or replace a committed message; returns the chunks that changed."""
        seq = raw["seq"]
        if self.floor is not None and seq <= self.floor and seq not in self.seen:
            return []
        i = self._slot(seq)
        if i is None:
            return []
        item = {**views.message_item(raw, views.zone(self.tz), self.lang), "show_day": False}
        item["show_day"] = item["day"] != self._previous_day(seq)
        old = next((m for m in self.chunks[i] if m["seq"] == seq), None)
        if old is not None and old == item:
            return []  # told twice (several workers, a resend): nothing to send
        chunk = [m for m in self.chunks[i] if m["seq"] != seq]
        chunk.append(item)
        chunk.sort(key=lambda m: m["seq"])
        self.chunks[i] = tuple(chunk)
        self.seen.add(seq)
        self.newest = max(self.newest, seq)
        changed = [i]
        # A message that overtook this one on the way may now start a day wrongly.
        nxt = self._neighbour(seq, +1)
        if nxt is not None and nxt["show_day"] != (nxt["day"] != item["day"]):
            j = (nxt["seq"] // CHUNK) % CHUNKS
            self.chunks[j] = tuple({**m, "show_day": not m["show_day"]} if m is nxt else m for m in self.chunks[j])
            changed.append(j)
        return sorted(set(changed))

    def remove(self, seq: int, message_id: int) -> list[int]:
        i = (seq // CHUNK) % CHUNKS
        if self.bases[i] != seq - seq % CHUNK:
            return []
        self.seen.add(seq)
        before = self.chunks[i]
        self.chunks[i] = tuple(m for m in before if m["id"] != message_id)
        return [i] if len(self.chunks[i]) != len(before) else []

    def after(self, after_seq: int) -> list[dict] | None:
        """The messages after after_seq up to the first one not seen yet (still on its way).

        None when the ring does not reach back to after_seq + 1 (started later, or reused).
        """
        if self.floor is None or after_seq < self.floor:
            return None
        seq = after_seq + 1
        while seq in self.seen:
            seq += 1
        return [m for m in self.items() if after_seq < m["seq"] < seq]

    def delta(self, chunks) -> dict:
        values = {chunk_var(i) + FIELD: list(self.chunks[i]) for i in chunks}
        values["live_order" + FIELD] = self.order()
        values["live_room" + FIELD] = self.room_id
        return values


_rings: dict[tuple[int, str, str], Ring] = {}
_by_room: dict[int, set[tuple[int, str, str]]] = {}
_viewing: dict[str, tuple[int, str, str]] = {}  # tab token -> the ring it shows
_users: dict[str, int] = {}  # tab token -> its user
_state_name: str = ""


def configure(state_name: str) -> None:
    global _state_name
    _state_name = state_name


def _namespace():
    from corpchat.realtime.hub import _app

    return _app().event_namespace


def _local_sid(ns, token: str) -> str | None:
    manager = ns._token_manager
    record = manager.token_to_socket.get(token)
    if record is None or getattr(record, "instance_id", manager.instance_id) != manager.instance_id:
        return None
    return record.sid


async def _emit(ring: Ring, chunks, to: str | None = None) -> None:
    if not chunks and to is None:
        return
    try:
        ns = _namespace()
        await ns.emit("event", {"delta": {_state_name: ring.delta(chunks)}}, to=to or ring.name)
    except Exception:  # a broadcast that fails must not fail the send that caused it
        log.exception("broadcast to %s failed", ring.name)


def _broadcast(ring: Ring, chunks) -> None:
    """Send the changed chunks to the ring's viewers soon: at the next turn of the event loop,
    or BROADCAST_GAP after the previous broadcast of a busy room.

    Why not at once: a busy group's tab then got every chunk again for every message, one
    frame each; now the messages of a few milliseconds share one frame per tab.
    """
    ring.dirty.update(chunks)
    if ring.dirty and not ring.flush_due:
        ring.flush_due = True
        loop = asyncio.get_running_loop()
        wait = ring.last_flush + BROADCAST_GAP - loop.time()
        if wait > 0:
            loop.call_later(wait, _start_flush, ring)
        else:
            loop.call_soon(_start_flush, ring)


def _start_flush(ring: Ring) -> None:
    task = asyncio.ensure_future(_flush(ring))
    _flushing.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(_flushing.discard)


async def _flush(ring: Ring) -> None:
    ring.flush_due = False
    ring.last_flush = asyncio.get_running_loop().time()
    chunks, ring.dirty = sorted(ring.dirty), set()
    if _rings.get((ring.room_id, ring.tz, ring.lang)) is ring:
        await _emit(ring, chunks)


_flushing: set = set()


async def join(token: str, user_id: int, room_id: int, tz: str, lang: str) -> None:
    """Show this tab the room's live messages from now on (and what the ring holds already).

    Called BEFORE the tab reads its history: a message committed after that read
    is published after this join, so it reaches the ring; nothing falls between.
    """
    await leave(token)
    ns = _namespace()
    sid = _local_sid(ns, token)
    if sid is None:
        return
    key = (room_id, tz, lang)
    ring = _rings.get(key)
    if ring is not None:
        _prune(ring)  # closed tabs do not say goodbye
        ring = _rings.get(key)
    if ring is None:
        ring = _rings[key] = Ring(room_id, tz, lang, f"live:{room_id}:{tz}:{lang}")
        _by_room.setdefault(room_id, set()).add(key)
    ring.viewers[token] = NOT_SEEDED
    _viewing[token] = key
    _users[token] = user_id
    await ns.enter_room(sid, ring.name)
    # Straight to this socket, after entering the room: every later broadcast comes after it.
    await _emit(ring, range(CHUNKS), to=sid)


async def leave(token: str) -> None:
    key = _viewing.pop(token, None)
    _users.pop(token, None)
    ring = _rings.get(key) if key else None
    if ring is None:
        return
    ring.viewers.pop(token, None)
    ns = _namespace()
    sid = _local_sid(ns, token)
    if sid is not None:
        await ns.leave_room(sid, ring.name)
    if not ring.viewers:
        _drop(key)


def _drop(key) -> None:
    _rings.pop(key, None)
    keys = _by_room.get(key[0])
    if keys is not None:
        keys.discard(key)
        if not keys:
            del _by_room[key[0]]


def viewing(token: str) -> int:
    key = _viewing.get(token)
    return key[0] if key else 0


def ring_of(token: str) -> Ring | None:
    key = _viewing.get(token)
    return _rings.get(key) if key else None


def seeded(token: str, settled_seq: int, last_day: str) -> None:
    """The tab has read its history up to settled_seq (the newest message, of day last_day)."""
    ring = ring_of(token)
    if ring is None:
        return
    if ring.floor is None:
        ring.floor, ring.last_day = settled_seq, last_day
    ring.viewers[token] = settled_seq
    ring.newest = max(ring.newest, settled_seq)


def folded(token: str, settled_seq: int) -> None:
    ring = ring_of(token)
    if ring is not None and token in ring.viewers:
        ring.viewers[token] = settled_seq


def ride(token: str) -> None:
    """The tab shows the ring alone from now on: it never folds again while it follows.

    Why: in a busy room every tab folded every FOLD_LAG messages, each fold its own state
    change re-sending up to 200 bubbles per tab; that was most of a worker's JSON encoding
    at 400 messages/s. A riding tab costs nothing per message beyond the shared broadcast.
    """
    ring = ring_of(token)
    if ring is not None and token in ring.viewers:
        ring.viewers[token] = RIDING


def run(token: str) -> list[dict] | None:
    """The ring's unbroken run from its oldest message (what a riding tab shows); None: no ring."""
    ring = ring_of(token)
    return None if ring is None or ring.floor is None else ring.after(ring.floor)


def items_after(token: str, after_seq: int) -> list[dict] | None:
    """The ring's messages after after_seq, in an unbroken run (see Ring.after); None: ask the database."""
    ring = ring_of(token)
    return None if ring is None else ring.after(after_seq)


def _prune(ring: Ring) -> None:
    """Forget viewers whose socket is gone (closed tabs do not say goodbye)."""
    ns = _namespace()
    for token in [t for t in ring.viewers if _local_sid(ns, t) is None]:
        ring.viewers.pop(token, None)
        _viewing.pop(token, None)
        _users.pop(token, None)
    if not ring.viewers:
        _drop((ring.room_id, ring.tz, ring.lang))


async def publish(raw: dict) -> list[tuple[int, str]]:
    """A committed new or edited message: into every ring of its room, broadcast.

    Returns the (user, tab) pairs that should fold now (they lag fold_lag(tab) messages or more).
    """
    lagging: list[tuple[int, str]] = []
    for key in list(_by_room.get(raw["room_id"], ())):
        ring = _rings.get(key)
        if ring is None:
            continue
        old_order = ring.order()
        changed = ring.upsert(raw)
        if ring.order() != old_order:
            _prune(ring)
            if key not in _rings:
                continue
        _broadcast(ring, changed)
        for token, settled in ring.viewers.items():
            if settled >= 0 and ring.newest - settled >= fold_lag(token):
                ring.viewers[token] = ring.newest  # asked once; the fold reports the real figure
                lagging.append((_users.get(token, 0), token))
    return lagging


async def unpublish(room_id: int, seq: int, message_id: int) -> None:
    """A message deleted for everyone disappears from every ring."""
    for key in list(_by_room.get(room_id, ())):
        ring = _rings.get(key)
        if ring is not None:
            _broadcast(ring, ring.remove(seq, message_id))
