"""workers: the fan-out scenario on several workers sharing Redis.

For GRANIAN_WORKERS = 2 and 4 a separate app is started with
REFLEX_REDIS_URL (Redis at 127.0.0.1:6379; a local redis-server is started
when none answers) and REFLEX_REDIS_MAX_CONNECTIONS=50 (as .env.example). The
kernel spreads the 200 members' sockets over the workers (counted per worker
process with psutil). One member sends; p50/p99 until the last of the other
199 has the message, and whether every member received every message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from tests.bench import common, fanout
from tests.bench.client import new_http

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER_COUNTS = (2, 4)
# The app as configured (corpchat.cli serve turns Reflex's opportunistic Redis locks on when
# REFLEX_REDIS_URL is set: a worker keeps the states of the tabs whose sockets it holds, and
# pushes are routed to that worker, corpchat/realtime/router.py), then with them off, to
# show what they are worth.
VARIANTS = (("", {}), (" oplock off", {"REFLEX_OPLOCK_ENABLED": "false"}))
MEMBERS = 200
MESSAGES = 60
TARGETS_MS = {1: 100.0, 2: 200.0}
QUICK = {"members": 50, "messages": 15, "worker_counts": (2,), "variants": VARIANTS[:1]}


def ensure_redis() -> str:
    import redis

    def up() -> bool:
        try:
            return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
        except Exception:
            return False

    if up():
        return "already running"
    server = shutil.which("redis-server")
    if not server:
        raise RuntimeError(f"no Redis at {REDIS_URL} and no redis-server to start")
    subprocess.run([server, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", ""],
                   check=True, stdout=subprocess.DEVNULL)
    for _ in range(50):
        if up():
            return "started (redis-server --daemonize yes)"
        time.sleep(0.1)
    raise RuntimeError("redis-server did not answer")


def sockets_per_worker(app) -> dict[int, int]:
    """Established TCP connections on the app's port, per worker process."""
    out = {}
    for p in common.group_processes(app):
        if p.pid == app.proc.pid:
            continue
        try:
            conns = p.net_connections(kind="tcp")
        except Exception:
            continue
        out[p.pid] = sum(1 for c in conns if c.status == "ESTABLISHED" and c.laddr and c.laddr.port == app.port)
    return out


async def run(bench: common.Bench, res: common.Result, members: int = MEMBERS, messages: int = MESSAGES,
              worker_counts=WORKER_COUNTS, variants=VARIANTS) -> None:
    res.note(f"Redis {REDIS_URL}: {ensure_redis()}")
    users, room = await fanout.connect_group(bench, "", members, "wk")
    res.details["runs"] = {}
    for label, extra in variants:
        for n in worker_counts:
            await _one(bench, res, users, room, members, messages, n, label, extra)


async def _one(bench, res, users, room, members: int, messages: int, n: int, label: str, extra: dict) -> None:
    name = f"{n} workers{label}"
    tag = label.replace(" ", "-")
    app = bench.start_app(log_name=f"bench-w{n}{tag}", GRANIAN_WORKERS=str(n),
                          REFLEX_REDIS_URL=REDIS_URL, REFLEX_REDIS_MAX_CONNECTIONS="50", **extra)
    try:
        async with new_http() as http:
            t = time.perf_counter()
            tabs = await fanout.open_members(http, app.url, users, room)
            spread = sockets_per_worker(app)
            connect_s = time.perf_counter() - t
            try:
                with common.Profile(app, f"workers{n}{tag}"):
                    stats = await fanout.measure(tabs, messages)
            finally:
                await common.close_tabs(tabs)
    finally:
        app.stop()
    stats["sockets_per_worker"] = sorted(spread.values(), reverse=True)
    stats["connect_s"] = round(connect_s, 1)
    stats["app_env"] = extra
    res.details["runs"][name] = stats
    last = stats["last"]
    target = TARGETS_MS.get(n)
    all_received = stats["missing_deliveries"] == 0 and stats["incomplete_messages"] == 0
    res.add(f"{name}: send->last of {members - 1} p50", last["p50_ms"], "ms")
    res.add(f"{name}: send->last of {members - 1} p99", last["p99_ms"], "ms",
            f"<= {target:g} ms" if target else "", (last["p99_ms"] <= target) if target else None)
    res.add(f"{name}: every member got every message", all_received, "", "yes", all_received)
    res.note(f"{name}: sockets per worker {stats['sockets_per_worker']}; "
             f"{stats['missing_deliveries']} deliveries missing in {messages} messages"
             + (f"; app env {extra}" if extra else ""))
