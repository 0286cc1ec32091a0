"""Worker tuning for a process that pushes to thousands of sockets: GC, GIL, thread pool.

Nothing to do with delivery itself; applied once per worker when its first tab
connects (the app is fully loaded by then).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from concurrent.futures import ThreadPoolExecutor

from corpchat import db

GC_THRESHOLD0 = 20_000
# How long a thread may hold the GIL while another waits for it (CPython's default: 5 ms).
SWITCH_INTERVAL = 0.0005

_tuned = False


def tune() -> None:
    """Garbage collection: a worker holds a large, long-lived heap (Reflex, the compiled app)
    and every push allocates many short-lived objects, so CPython's full collections ran
    about once a second and stopped the event loop for 100-270 ms each while finding nothing
    to free: the p99 of a fan-out. Freezing what exists at that point takes it out of every
    later collection, and a larger first-generation threshold lets the garbage of a push die
    young instead of being promoted.

    The GIL: the event loop gives up the GIL at every socket call, and when a service thread
    (SQLAlchemy, in Python) takes it, the loop waited up to 5 ms to get it back - many times
    per callback. With 3,000 connected users the loop spent ~30 % of its time in callbacks
    stalled 10-100 ms that way; with a 0.5 ms switch interval, 5-10 %.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    # Services run in threads (asyncio.to_thread); the default pool has cpu+4 = 6 of them,
    # so 20 concurrent senders queued for a thread while the database sat idle.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=db.max_connections(), thread_name_prefix="service"))
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD0, 20, 20)
    sys.setswitchinterval(SWITCH_INTERVAL)
