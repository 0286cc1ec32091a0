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
import logging

from corpchat.realtime import reflex_glue
from corpchat.realtime.ring import CHUNKS, NOT_SEEDED, RIDING, Ring, fold_lag, spread  # noqa: F401

log = logging.getLogger(__name__)

# While a room is busy its broadcasts go out at most this often (messages in between share
# one frame per tab); an idle room's next message goes out at once.
BROADCAST_GAP = 0.004

_rings: dict[tuple[int, str, str], Ring] = {}
_by_room: dict[int, set[tuple[int, str, str]]] = {}
_viewing: dict[str, tuple[int, str, str]] = {}  # tab token -> the ring it shows
_users: dict[str, int] = {}  # tab token -> its user
_state_name: str = ""


def configure(state_name: str) -> None:
    global _state_name
    _state_name = state_name


async def _emit(ring: Ring, chunks, to: str | None = None) -> None:
    if not chunks and to is None:
        return
    try:
        await reflex_glue.namespace().emit("event", {"delta": {_state_name: ring.delta(chunks)}}, to=to or ring.name)
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
    ns = reflex_glue.namespace()
    sid = reflex_glue.local_sid(token)
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
    ns = reflex_glue.namespace()
    sid = reflex_glue.local_sid(token)
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
    for token in [t for t in ring.viewers if reflex_glue.local_sid(t) is None]:
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


async def evict(room_id: int, user_ids) -> None:
    """These users lost access to the room: their tabs on this worker leave its broadcast now,
    before the room's next message goes out (their own tab closes the room later, when it
    applies the event)."""
    users = set(user_ids)
    for key in list(_by_room.get(room_id, ())):
        ring = _rings.get(key)
        if ring is None:
            continue
        for token in [t for t in ring.viewers if _users.get(t) in users]:
            await leave(token)
