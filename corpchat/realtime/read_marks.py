"""Read marks for messages that arrive in a chat a tab has open.

Written in batches (one UPDATE per flush) instead of one write per message
per member, which would dominate the cost of a busy group.
"""

from __future__ import annotations

import asyncio
import logging

from corpchat.services import rooms

FLUSH_SECONDS = 0.5
log = logging.getLogger(__name__)

_pending: dict[tuple[int, int], int] = {}
_task: asyncio.Task | None = None


def queue(user_id: int, room_id: int, seq: int) -> None:
    global _task
    key = (user_id, room_id)
    if seq > _pending.get(key, 0):
        _pending[key] = seq
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(_flush_later())


async def _flush_later() -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    await flush()


async def flush() -> None:
    if not _pending:
        return
    batch = [(u, r, s) for (u, r), s in _pending.items()]
    _pending.clear()
    try:
        await asyncio.to_thread(rooms.mark_read_batch, batch)
    except Exception:
        log.exception("writing %d read marks failed", len(batch))
