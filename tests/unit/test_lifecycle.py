"""realtime.lifecycle: first tab / last tab decisions, on a fake clock, with both stores.

The Redis store is the one several workers share: two Lifecycle objects on one
Redis database play two workers.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest

from corpchat.realtime import lifecycle
from corpchat.realtime.lifecycle import TAB_TTL, Lifecycle, MemoryTabs, RedisTabs
from tests import support

REDIS_URL = support.REDIS_URL
GRACE = 5.0


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def redis_store(monkeypatch) -> None:
    if not support.redis_up():
        pytest.skip(f"needs Redis at {REDIS_URL}")
    prefix = f"test-life-{secrets.token_hex(4)}"
    monkeypatch.setattr(lifecycle, "key_prefix", lambda: prefix)


@pytest.fixture(params=["memory", "redis"])
def store_factory(request, monkeypatch):
    """Stores that share one bookkeeping (one process, or one Redis prefix): one per 'worker'."""
    if request.param == "memory":
        shared = MemoryTabs()
        return lambda: shared
    redis_store(monkeypatch)  # one prefix for this test: the workers' shared Redis database
    return lambda: RedisTabs(REDIS_URL)


class Signals:
    def __init__(self, *workers: Lifecycle):
        self.seen: list[tuple[str, int]] = []
        for worker in workers:
            worker.first_callbacks.append(self._first)
            worker.last_callbacks.append(self._last)

    async def _first(self, user_id: int) -> None:
        self.seen.append(("first", user_id))

    async def _last(self, user_id: int) -> None:
        self.seen.append(("last", user_id))

    async def take(self) -> list[tuple[str, int]]:
        for _ in range(3):  # callbacks run as tasks
            await asyncio.sleep(0)
        seen, self.seen = self.seen, []
        return seen


def worker(store, clock) -> Lifecycle:
    return Lifecycle(store, clock=clock, grace=GRACE)


async def test_two_tabs_one_first_and_one_last_after_the_grace(store_factory):
    clock = Clock()
    life = worker(store_factory(), clock)
    signals = Signals(life)
    await life.tab_opened(7, "a")
    await life.tab_opened(7, "b")
    await life.tab_opened(7, "a")  # on_load again (navigation): still one tab
    assert await signals.take() == [("first", 7)]
    await life.socket_closed("a")
    clock.now += GRACE + 1
    await life.sweep()
    assert await signals.take() == []  # tab b is open
    await life.socket_closed("b")
    clock.now += GRACE - 1
    await life.sweep()
    assert await signals.take() == []  # still within the grace
    clock.now += 2
    await life.sweep()
    assert await signals.take() == [("last", 7)]
    await life.sweep()
    assert await signals.take() == []  # exactly once


async def test_reload_within_the_grace_signals_nothing(store_factory):
    clock = Clock()
    life = worker(store_factory(), clock)
    signals = Signals(life)
    await life.tab_opened(7, "a")
    await signals.take()
    await life.socket_closed("a")
    clock.now += GRACE - 1
    await life.tab_opened(7, "a")  # same token
    await life.socket_closed("a")
    clock.now += 1
    await life.tab_opened(7, "a2")  # reconnect with a new token (reflex#6345)
    clock.now += GRACE + 1
    await life.sweep()
    assert await signals.take() == []


async def test_a_socket_that_never_passed_the_guard_counts_for_nobody(store_factory):
    clock = Clock()
    life = worker(store_factory(), clock)
    signals = Signals(life)
    await life.socket_closed("stranger")
    await life.heartbeat()
    clock.now += TAB_TTL + 1
    await life.sweep()
    assert await signals.take() == []


async def test_other_login_in_the_same_tab_lets_the_first_user_go(store_factory):
    clock = Clock()
    life = worker(store_factory(), clock)
    signals = Signals(life)
    await life.tab_opened(7, "a")
    await life.tab_opened(8, "a")  # logged out, Mallory logged in on the same tab
    assert await signals.take() == [("first", 7), ("first", 8)]
    clock.now += GRACE + 1
    await life.heartbeat()
    await life.sweep()
    assert await signals.take() == [("last", 7)]


async def test_tabs_on_two_workers(store_factory):
    clock = Clock()
    w1, w2 = worker(store_factory(), clock), worker(store_factory(), clock)
    signals = Signals(w1, w2)
    await w1.tab_opened(7, "a")
    await w2.tab_opened(7, "b")
    assert await signals.take() == [("first", 7)]
    await w1.socket_closed("a")
    clock.now += GRACE + 1
    await w1.sweep()
    await w2.sweep()
    assert await signals.take() == []  # still online through worker 2
    await w2.socket_closed("b")
    clock.now += GRACE + 1
    await asyncio.gather(w1.sweep(), w2.sweep())
    assert await signals.take() == [("last", 7)]


async def test_a_dead_worker_s_tabs_run_out(store_factory):
    clock = Clock()
    w1, w2 = worker(store_factory(), clock), worker(store_factory(), clock)
    signals = Signals(w1, w2)
    await w1.tab_opened(7, "a")  # then worker 1 dies: no close, no heartbeat
    await w2.tab_opened(8, "b")
    await signals.take()
    for _ in range(4):
        clock.now += TAB_TTL / 3
        await w2.heartbeat()
        await w2.sweep()
    assert await signals.take() == [("last", 7)]  # user 8's tab is kept alive by worker 2's heartbeat


async def test_delivery_and_presence_read_one_record_of_tabs(store_factory):
    """Issue 20#7: the tabs a push goes to are the tabs presence counts, on every worker; a tab
    that signed out leaves both, after the grace, with the "last tab" signal."""
    clock = Clock()
    one, two = worker(store_factory(), clock), worker(store_factory(), clock)
    signals = Signals(one, two)
    await one.tab_opened(7, "a")
    await two.tab_opened(7, "b")
    await two.tab_opened(8, "c")
    tabs = await one.store.tabs([7, 8, 9])
    assert sorted(tabs[7]) == ["a", "b"] and tabs[8] == ["c"] and tabs[9] == []
    assert await one.store.online([7, 8, 9]) == {7, 8}
    await signals.take()
    await one.tab_left(7, "a")  # signed out in tab a
    await two.tab_left(8, "c")
    clock.now += GRACE + 1
    await one.heartbeat()  # tab a is no longer this worker's to keep alive
    await two.sweep()
    assert (await one.store.tabs([7]))[7] == ["b"] and await one.store.online([8]) == set()
    assert await signals.take() == [("last", 8)]


async def test_a_push_addressed_to_one_tab_reaches_only_it(monkeypatch):
    """Push.to_tabs: exactly the named tabs get it; the acting tab applies only what names it."""
    from types import SimpleNamespace

    from corpchat.realtime import hub, mailbox
    from corpchat.services.events import ChatRead, Push, RoomLeft
    from corpchat.state.base import AuthState

    monkeypatch.setattr(lifecycle, "_instance", Lifecycle(MemoryTabs(), clock=Clock(), grace=GRACE))
    for user, tab in ((7, "a"), (7, "b"), (8, "c")):
        await lifecycle.tab_opened(user, tab)
    posted = []
    monkeypatch.setattr(mailbox, "post", lambda uid, token, events, done=None: posted.append((uid, token, events)))
    event = ChatRead(3, 4)
    await hub.deliver({7: [event], 8: [event]}, wait=False, only=("b", "c"))
    assert sorted(posted) == [(7, "b", [event]), (8, "c", [event])]
    posted.clear()
    await hub.deliver({7: [RoomLeft(3), event]}, "a", wait=False)  # RoomLeft never reaches a state
    assert posted == [(7, "b", [event])]

    def tab(user, token):
        return SimpleNamespace(_user_id=user, _tab=lambda: token)

    addressed = Push((7,), event, to_tabs=("b",))
    assert not AuthState._addressed(tab(7, "a"), addressed) and AuthState._addressed(tab(7, "b"), addressed)
    assert not AuthState._addressed(tab(8, "c"), Push((7,), event))  # not in the audience: not applied
