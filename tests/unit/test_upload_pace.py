"""Reading uploads: the worker's pace shared by all, each user's own share of it
(services/upload_limits.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from corpchat.services.errors import Throttled
from corpchat.services.upload_limits import InFlight, Pace


async def test_uploads_are_paced_together():
    pace = Pace(10 * 1024 * 1024)  # 10 MB/s
    t0 = time.monotonic()

    async def upload():
        for _ in range(3):
            await pace.take(1024 * 1024)

    await asyncio.gather(upload(), upload())  # 6 MB between them
    assert 0.45 <= time.monotonic() - t0 < 1.5


async def test_no_pace_when_unlimited():
    pace = Pace(0)
    t0 = time.monotonic()
    for _ in range(100):
        await pace.take(100 * 1024 * 1024)
    assert time.monotonic() - t0 < 0.1


async def test_one_users_many_uploads_leave_the_others_their_share():
    """A user's own pace comes first: however many uploads they run, they reserve at most their
    share of the worker's pace, and another user's upload goes at the rest."""
    mb = 1024 * 1024
    worker, hog = Pace(10 * mb), Pace(5 * mb)

    async def read(pace: Pace, n_mb: int) -> float:
        t0 = time.monotonic()
        for _ in range(n_mb * 4):
            await pace.take(mb // 4)
            await worker.take(mb // 4)
        return time.monotonic() - t0

    hogs = [asyncio.create_task(read(hog, 3)) for _ in range(8)]
    await asyncio.sleep(0.05)
    other = await read(Pace(5 * mb), 2)  # 2 MB at (at least) the 5 MB/s left
    for task in hogs:
        task.cancel()
    assert other < 0.9, other  # first come, first served it waited behind 24 MB: ~2.5 s


async def test_past_the_cap_uploads_wait_their_turn_and_past_the_queue_are_refused():
    flights = InFlight(per_user=2, queued=1)
    a, b = await flights.begin(1), await flights.begin(1)
    third = asyncio.create_task(flights.begin(1))
    await asyncio.sleep(0.01)
    assert not third.done()  # waits, unread
    with pytest.raises(Throttled):
        await flights.begin(1)  # the queue is full
    assert await flights.begin(2) is not None  # others are not affected
    assert flights.add(1, a, 100) == 100 and flights.add(1, b, 50) == 150
    flights.end(1, a)
    c = await asyncio.wait_for(third, 1)  # handed a's slot
    assert flights.add(1, c, 10) == 60
    waiting = asyncio.create_task(flights.begin(1))
    await asyncio.sleep(0.01)
    waiting.cancel()  # a client that gives up leaves the queue
    with pytest.raises(asyncio.CancelledError):
        await waiting
    flights.end(1, b)
    flights.end(1, c)
    assert flights._users.get(1) is None  # nothing kept for an idle user


async def test_the_worker_pace_is_shared_equally_by_the_users_uploading(monkeypatch):
    import dataclasses

    from corpchat.services import upload_limits

    monkeypatch.setattr(upload_limits, "settings", dataclasses.replace(upload_limits.settings,
                                                                       upload_mb_per_second=40.0))
    flights = InFlight(per_user=4)
    alone = await flights.begin(1)
    assert flights.pace(1).rate == 40 * 1024 * 1024  # a user alone goes at the worker's pace
    for _ in range(3):
        await flights.begin(2)  # many uploads of one other user count once
    assert flights.pace(1).rate == flights.pace(2).rate == 20 * 1024 * 1024
    flights.end(1, alone)
    assert flights.pace(2).rate == 40 * 1024 * 1024
