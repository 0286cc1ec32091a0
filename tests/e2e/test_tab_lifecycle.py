"""A user's first tab / last tab over the real app (issue 12), with raw WebSocket tabs.

The app logs each transition ("user N: first tab", "user N: last tab gone") at
INFO; presence will hang its Online/Offline events on the same signals. Runs on
one worker (memory) and on two workers sharing Redis, where the tabs of one user
land on either worker and "last" must still be decided once, across both.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import pytest
import pytest_asyncio

from tests import support
from tests import wsclient as w

GRACE = 2.0
SETTLE = GRACE + 2.5  # grace, plus one sweep round, plus a loaded machine
PASSWORD = "correct horse 12"
REDIS_URL = support.REDIS_URL


@pytest.fixture(scope="module", params=["one_worker", "two_workers_redis"])
def life_app(request):
    env = {"TAB_GRACE_SECONDS": str(GRACE), "CORPCHAT_LOG_LEVEL": "INFO"}
    if request.param == "two_workers_redis":
        if not support.redis_up():
            pytest.skip(f"needs Redis at {REDIS_URL}")
        env.update(REFLEX_REDIS_URL=REDIS_URL, GRANIAN_WORKERS="2", REDIS_KEY_PREFIX=f"life{secrets.token_hex(4)}")
    app = support.AppProcess(env=env, log_name=f"lifecycle-{request.param}").start()
    yield app
    app.stop()


class Signals:
    def __init__(self, app: support.AppProcess, user_id: int):
        self.app, self.user_id = app, user_id

    def count(self, what: str) -> int:
        return self.app.log_path.read_text(errors="replace").count(f"user {self.user_id}: {what}\n")

    @property
    def first(self) -> int:
        return self.count("first tab")

    @property
    def last(self) -> int:
        return self.count("last tab gone")

    async def wait(self, what: str, n: int, timeout: float = SETTLE) -> None:
        deadline = time.monotonic() + timeout
        while self.count(what) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert self.count(what) == n, f"{what}: {self.count(what)} signals, expected {n}"


@pytest_asyncio.fixture(loop_scope="session")
async def user(life_app):
    session = await w.register(life_app.url, f"life{secrets.token_hex(4)}", PASSWORD)
    return session, Signals(life_app, session.user_id)


async def open_tab(session: w.Session, token: str | None = None) -> w.ReflexClient:
    return await w.ReflexClient(session.base_url, session, token=token).connect("/")


async def test_two_tabs_then_close_one_then_the_other(user):
    session, signals = user
    tabs = [await open_tab(session) for _ in range(2)]
    await signals.wait("first tab", 1, timeout=5)
    await tabs[0].close()
    await asyncio.sleep(SETTLE)
    assert (signals.first, signals.last) == (1, 0), "closing one of two tabs must signal nothing"
    await tabs[1].close()
    closed = time.monotonic()
    await signals.wait("last tab gone", 1)
    assert time.monotonic() - closed >= GRACE - 0.5, "'last' came before the grace period"
    await asyncio.sleep(1.5)
    assert (signals.first, signals.last) == (1, 1), "'last' must be signalled once, by one worker"


async def test_reload_and_reconnect_within_the_grace_signal_nothing(user):
    session, signals = user
    token = str(uuid.uuid4())
    tab = await open_tab(session, token)
    await signals.wait("first tab", 1, timeout=5)
    for _ in range(2):  # a reload: same token, a new socket (maybe on the other worker)
        await tab.close()
        await asyncio.sleep(0.5)
        tab = await open_tab(session, token)
    await tab.close()
    await asyncio.sleep(0.5)
    tab = await open_tab(session)  # a reconnect that came back with a new token (reflex#6345)
    await asyncio.sleep(SETTLE)
    assert (signals.first, signals.last) == (1, 0)
    await tab.close()
    await signals.wait("last tab gone", 1)


async def test_many_tabs_on_both_workers(user, life_app):
    """Four tabs (spread over the workers by the kernel); closing three leaves the user online."""
    session, signals = user
    tabs = [await open_tab(session) for _ in range(4)]
    await signals.wait("first tab", 1, timeout=5)
    await asyncio.gather(*(t.close() for t in tabs[:3]))
    await asyncio.sleep(SETTLE)
    assert signals.last == 0
    await tabs[3].close()
    await signals.wait("last tab gone", 1)
    await asyncio.sleep(1.5)
    assert (signals.first, signals.last) == (1, 1)


async def test_a_token_replayed_without_the_cookie_keeps_nobody_online(user):
    session, signals = user
    token = str(uuid.uuid4())
    tab = await open_tab(session, token)
    await signals.wait("first tab", 1, timeout=5)
    await tab.close()
    await asyncio.sleep(0.3)
    stranger = await w.ReflexClient(session.base_url, None, token=token).connect("/")
    try:
        await signals.wait("last tab gone", 1)
    finally:
        await stranger.close()
