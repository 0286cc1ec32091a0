"""Every image decode in the process (avatars, file thumbnails) goes through here: one pixel
limit and one bound on decodes running at once.

Twenty concurrent 6300x6300 avatar uploads once took a fresh worker from 140 MB to 7.6 GB and
filled the thread pool every other user's handler waits on. Now at most IMAGE_DECODE_SLOTS decodes
run at once, a waiting caller does not hold a pool thread (`slot_async`), and a JPEG decodes at a
reduced scale (`Image.draft`) when only a small result is wanted.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time

from PIL import Image

from corpchat.config import settings
from corpchat.services.errors import Throttled

MAX_PIXELS = settings.image_max_pixels
# Pillow's own guard for every caller in the process (it raises DecompressionBombError past twice
# this), behind the explicit header checks of each path.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_slots = threading.BoundedSemaphore(max(1, settings.image_decode_slots))
# Set by slot_async: asyncio.to_thread copies the context, so the decode it runs in a thread
# knows its slot is already taken.
_held = contextvars.ContextVar("image_decode_slot_held", default=False)


@contextlib.contextmanager
def slot():
    """Hold a decode slot in a worker thread (blocks while all are busy)."""
    if _held.get():
        yield
        return
    with _slots:
        yield


@contextlib.asynccontextmanager
async def slot_async(wait_seconds: float = 20.0):
    """Take a decode slot from the event loop without tying up a pool thread while waiting;
    after `wait_seconds` the caller is told to try again (Throttled)."""
    deadline = time.monotonic() + wait_seconds
    while not _slots.acquire(blocking=False):
        if time.monotonic() > deadline:
            raise Throttled("err.too_fast")
        await asyncio.sleep(0.05)
    token = _held.set(True)
    try:
        yield
    finally:
        _held.reset(token)
        _slots.release()


def reduce_for(im: Image.Image, longest: int) -> float:
    """Ask a JPEG to decode at the smallest power-of-two scale that keeps its longer side at least
    `longest` (other formats decode whole); returns the scale applied (1.0 = none)."""
    full = im.size
    if im.format == "JPEG" and max(full) > longest:
        im.draft("RGB", (longest, longest))
    return im.size[0] / full[0] if full[0] else 1.0
