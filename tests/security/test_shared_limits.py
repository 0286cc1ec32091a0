"""Upload and signalling throttles hold per user and per address across workers (issue 24, item
2): two processes sharing Redis, as two workers do, are refused at the same total as one.
Each process is a real interpreter with its own limiter; only Redis is shared."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

WORKER = r"""
import json, sys, time
from corpchat.services import upload_limits
from corpchat.services.errors import Throttled
from corpchat.api import signalling
kind, n, user, address = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
allowed, t0 = 0, time.perf_counter()
for _ in range(n):
    if kind == "upload":
        try:
            upload_limits.started(user, address)
            allowed += 1
        except Throttled:
            pass
    else:
        allowed += signalling._shared_take(user, address)
print(json.dumps({"allowed": allowed, "us_per_call": (time.perf_counter() - t0) / n * 1e6}))
"""


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS).ping())
    except Exception:
        return False


def _run(kind: str, n: int, user: int, address: str, prefix: str, redis_url: str) -> dict:
    env = {**os.environ, "REFLEX_REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix,
           "UPLOADS_PER_MINUTE": "30"}
    out = subprocess.run([sys.executable, "-c", WORKER, kind, str(n), str(user), address],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _two_workers(kind: str, n: int, redis_url: str, user: int, address: str) -> list[dict]:
    prefix = f"t{secrets.token_hex(4)}"
    return [_run(kind, n // 2, user, address, prefix, redis_url) for _ in range(2)]


@pytest.mark.parametrize("kind,limit", [("upload", 30), ("signal", None)])
def test_two_workers_refuse_at_the_same_total_as_one(kind, limit):
    if not _redis_up():
        pytest.skip("no Redis at " + REDIS)
    from corpchat.config import settings

    limit = limit or 20 * max(1, settings.signal_messages_per_second)
    n = 2 * limit + 2
    one = _run(kind, n, 7, "198.51.100.7", f"t{secrets.token_hex(4)}", REDIS)
    two = _two_workers(kind, n, REDIS, 7, "198.51.100.8")
    print(f"{kind}: one worker {one['allowed']}/{n}, two {[w['allowed'] for w in two]}, "
          f"{max(w['us_per_call'] for w in two):.0f} us per check with Redis")
    assert one["allowed"] == limit
    assert sum(w["allowed"] for w in two) == limit


def test_per_address_counts_every_user_there():
    """Users behind one address together stop at the address limit (4x a user's)."""
    if not _redis_up():
        pytest.skip("no Redis at " + REDIS)
    prefix = f"t{secrets.token_hex(4)}"
    got = [_run("upload", 30, 1000 + i, "198.51.100.9", prefix, REDIS)["allowed"] for i in range(5)]
    assert sum(got) == 4 * 30


def test_without_redis_each_process_counts_alone():
    got = _run("upload", 40, 7, "198.51.100.10", "", "")
    assert got["allowed"] == 30


def test_uploads_split_over_two_app_instances_are_refused_at_one_instance_total():
    """Over HTTP: two real app processes sharing Redis and PostgreSQL, as two workers; one user's
    uploads alternate between them and the 11th of 10 a minute is refused (429) wherever it lands."""
    if not _redis_up():
        pytest.skip("no Redis at " + REDIS)
    import asyncio

    import httpx

    from tests import support
    from tests.security.test_upload_bounds import _user

    env = {"REFLEX_REDIS_URL": REDIS, "REDIS_KEY_PREFIX": f"t{secrets.token_hex(4)}", "UPLOADS_PER_MINUTE": "10"}
    apps = []
    try:
        for name in ("lim1", "lim2"):
            apps.append(support.AppProcess(env=env, log_name=name, backend_only=True).start())

        async def run() -> list[int]:
            first = await _user(apps[0])
            statuses = []
            async with httpx.AsyncClient(base_url=apps[1].url, headers={"Origin": apps[1].url},
                                         cookies=first.cookies, timeout=60) as second:
                for i in range(16):
                    client = (first, second)[i % 2]
                    statuses.append((await client.post(f"/api/upload?name=s{i}.txt", content=b"x")).status_code)
            await first.aclose()
            return statuses

        statuses = asyncio.run(run())
    finally:
        for app in apps:
            app.stop()
    assert statuses.count(201) == 10 and statuses.count(429) == 6, statuses
