"""Anonymous tabs must not cost memory after their socket is gone (issue 19, finding 3).

Every tab token that hydrates gets a stored state (~20 KB), which Reflex keeps for an hour after
its socket closed: one client opening anonymous tabs grew a worker by 555 MB in 70 s. A tab that
never logged in now loses its state when its socket goes (state/tab_guard.forget_anonymous_tab).
"""

from __future__ import annotations

import asyncio
import time

import psutil

from tests import wsclient as w

CYCLES = 4000  # connect (with hydrate, on the login page) and close; 20 at a time
PARALLEL = 20
# What 4,000 kept states cost before (~20 KB each, ~80 MB) is well above RSS noise; afterwards the
# worker may grow by allocator slack only.
MAX_GROWTH_MB = 40


def _tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


async def _cycles(url: str, n: int) -> None:
    for _ in range(n):
        client = w.ReflexClient(url, keep_frames=False)
        try:
            await client.connect("/login")
        finally:
            await client.close()


async def test_anonymous_connect_close_cycles_leave_memory_flat(app_server):
    await _cycles(app_server.url, 200)  # warm: pools, caches and the allocator settle first
    await asyncio.sleep(1)
    before = _tree_rss(app_server.proc.pid)
    started = time.monotonic()
    await asyncio.gather(*(_cycles(app_server.url, CYCLES // PARALLEL) for _ in range(PARALLEL)))
    took = time.monotonic() - started
    await asyncio.sleep(2)  # disconnect hooks run as tasks
    after = _tree_rss(app_server.proc.pid)
    growth = (after - before) / 2**20
    print(f"\n{CYCLES} anonymous connect/close cycles in {took:.1f} s: app RSS "
          f"{before / 2**20:.0f} -> {after / 2**20:.0f} MB ({growth:+.0f} MB)")
    assert growth < MAX_GROWTH_MB
