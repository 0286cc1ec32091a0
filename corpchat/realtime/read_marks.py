"""Read marks for messages that arrive in a chat a tab has open.

Written in batches (one UPDATE per flush) instead of one write per message
per member, which would dominate the cost of a busy group. A mark that moved is
told to the user's OTHER tabs (their chat list's unread count): the tabs that
queued it show the chat, so they know already, and a user with one tab costs
nothing more.
"""

from __future__ import annotations

import asyncio
import logging

from corpchat.services import rooms
from corpchat.services.events import ChatRead, Push

FLUSH_SECONDS = 0.5
log = logging.getLogger(__name__)

_pending: dict[tuple[int, int], int] = {}
_readers: dict[tuple[int, int], set[str]] = {}  # the tabs that queued each mark
_task: asyncio.Task | None = None


def queue(user_id: int, room_id: int, seq: int, tab: str = "") -> None:
    global _task
    key = (user_id, room_id)
    if seq > _pending.get(key, 0):
        _pending[key] = seq
    _readers.setdefault(key, set()).add(tab)
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(_flush_later())


async def _flush_later() -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    await flush()


async def flush() -> None:
    if not _pending:
        return
    batch = [(u, r, s) for (u, r), s in _pending.items()]
    readers = dict(_readers)
    _pending.clear()
    _readers.clear()
    try:
        moved = await asyncio.to_thread(rooms.mark_read_batch, batch)
        await _tell_other_tabs(moved, readers)
    except Exception:
        log.exception("writing %d read marks failed", len(batch))


async def _tell_other_tabs(moved: list[tuple[int, int, int]], readers: dict) -> None:
    from corpchat.realtime import hub, lifecycle

    if not moved:
        return
    tabs = await lifecycle.tabs({u for u, _, _ in moved})
    for user_id, room_id, seq in moved:
        others = tuple(t for t in tabs.get(user_id, ()) if t not in readers.get((user_id, room_id), ()))
        if others:
            await hub.push(Push((user_id,), ChatRead(room_id, seq), to_tabs=others))
