"""All uploads of a worker together are read at most UPLOAD_MB_PER_SECOND (api/media.py)."""

from __future__ import annotations

import asyncio
import time

from corpchat.api.media import _Pace


async def test_uploads_are_paced_together():
    pace = _Pace(10 * 1024 * 1024)  # 10 MB/s
    t0 = time.monotonic()

    async def upload():
        for _ in range(3):
            await pace.take(1024 * 1024)

    await asyncio.gather(upload(), upload())  # 6 MB between them
    assert 0.45 <= time.monotonic() - t0 < 1.5


async def test_no_pace_when_unlimited():
    pace = _Pace(0)
    t0 = time.monotonic()
    for _ in range(100):
        await pace.take(100 * 1024 * 1024)
    assert time.monotonic() - t0 < 0.1
