"""Who is connected: each user's open tabs, across workers, with a grace period for reloads.

The one record of connected tabs: delivery (hub.deliver asks `tabs`) and presence (the first
tab connected / the last tab gone) read the same store, so they cannot disagree.

Reflex tells nobody that a socket went away (reflex#5669), so reflex_glue wraps
the Socket.IO namespace's disconnect. A tab counts for its user once the page's
guard verified the cookie (`tab_opened`, from the on_load guard): the socket's
token is known at connect, its user only then.

Every open tab has a deadline in a store shared by the workers (Redis with
REFLEX_REDIS_URL, else this process):
- the worker holding the tab's socket pushes it to now + TAB_TTL every HEARTBEAT
  (a worker that dies stops doing so, and its tabs run out after TAB_TTL);
- a closed socket pulls it to now + GRACE_SECONDS: a reload or reconnect within
  that time opens the tab again (same token, or a new one, reflex#6345) before
  the deadline, so nobody sees gone-then-connected;
- every worker sweeps expired tabs each SWEEP_SECONDS, atomically: the sweep that
  removes a user's last tab is the one that signals "last", exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import cache

from corpchat.config import settings

log = logging.getLogger(__name__)

Callback = Callable[[int], Awaitable[None]]

HEARTBEAT_SECONDS = 10.0
# Three missed heartbeats: a busy event loop must not make its users look gone.
TAB_TTL = 3 * HEARTBEAT_SECONDS
SWEEP_SECONDS = 1.0
SWEEP_BATCH = 500


def grace_seconds() -> float:
    return settings.tab_grace_seconds


@cache
def key_prefix() -> str:
    """Our Redis keys and channels start with this: REDIS_KEY_PREFIX, or one derived from the
    database, so two deployments sharing a Redis database never see each other's tabs."""
    if settings.redis_key_prefix:
        return settings.redis_key_prefix
    from corpchat.db import database_url

    return "corpchat:" + hashlib.sha256(database_url().encode()).hexdigest()[:12]


class MemoryTabs:
    """One worker: user -> tabs and tab -> deadline, in this process."""

    def __init__(self):
        self._tabs: dict[int, set[str]] = {}
        self._due: dict[tuple[int, str], float] = {}

    async def open(self, pairs: Iterable[tuple[int, str]], deadline: float) -> list[int]:
        first = []
        for user_id, token in pairs:
            tabs = self._tabs.setdefault(user_id, set())
            if not tabs:
                first.append(user_id)
            tabs.add(token)
            self._due[(user_id, token)] = deadline
        return first

    async def close_soon(self, user_id: int, token: str, deadline: float) -> None:
        if (user_id, token) in self._due:
            self._due[(user_id, token)] = deadline

    async def online(self, user_ids: list[int]) -> set[int]:
        return {u for u in user_ids if self._tabs.get(u)}

    async def tabs(self, user_ids: list[int]) -> dict[int, list[str]]:
        return {u: list(self._tabs.get(u, ())) for u in user_ids}

    async def sweep(self, now: float) -> list[int]:
        gone = []
        for key in [k for k, due in self._due.items() if due <= now][:SWEEP_BATCH]:
            del self._due[key]
            user_id, token = key
            tabs = self._tabs.get(user_id, set())
            tabs.discard(token)
            if not tabs:
                self._tabs.pop(user_id, None)
                gone.append(user_id)
        return gone


# Members of the deadline set are "user_id:token"; each user's tabs are a set beside it.
# Scripts keep both in step atomically, so two workers never both see "first" or "last".
_OPEN = """
local first = {}
for i = 3, #ARGV, 2 do
  local key = ARGV[2] .. ARGV[i]
  if redis.call('SADD', key, ARGV[i + 1]) == 1 and redis.call('SCARD', key) == 1 then
    table.insert(first, ARGV[i])
  end
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i] .. ':' .. ARGV[i + 1])
end
return first
"""

_SWEEP = """
local gone = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, ':', 1, true)
  local user = string.sub(member, 1, sep - 1)
  local key = ARGV[3] .. user
  if redis.call('SREM', key, string.sub(member, sep + 1)) == 1 and redis.call('SCARD', key) == 0 then
    table.insert(gone, user)
  end
end
return gone
"""


class RedisTabs:
    """Several workers: the same bookkeeping in Redis, under key_prefix()."""

    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._open = self._redis.register_script(_OPEN)
        self._sweep = self._redis.register_script(_SWEEP)
        self._due_key = f"{key_prefix()}:life:due"
        self._user_prefix = f"{key_prefix()}:life:user:"

    async def open(self, pairs: Iterable[tuple[int, str]], deadline: float) -> list[int]:
        args: list = [deadline, self._user_prefix]
        for user_id, token in pairs:
            args += [user_id, token]
        if len(args) == 2:
            return []
        return [int(u) for u in await self._open(keys=[self._due_key], args=args)]

    async def close_soon(self, user_id: int, token: str, deadline: float) -> None:
        await self._redis.zadd(self._due_key, {f"{user_id}:{token}": deadline}, xx=True)

    async def online(self, user_ids: list[int]) -> set[int]:
        if not user_ids:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.exists(f"{self._user_prefix}{user_id}")
        return {u for u, n in zip(user_ids, await pipe.execute(), strict=True) if n}

    async def tabs(self, user_ids: list[int]) -> dict[int, list[str]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.smembers(f"{self._user_prefix}{user_id}")
            results = await pipe.execute()
        return {u: list(r) for u, r in zip(user_ids, results, strict=True)}

    async def sweep(self, now: float) -> list[int]:
        gone = await self._sweep(keys=[self._due_key], args=[now, SWEEP_BATCH, self._user_prefix])
        return [int(u) for u in gone]


class Lifecycle:
    """The decisions, over a store and a clock (tests pass a fake one)."""

    def __init__(self, store, clock: Callable[[], float] = time.time, grace: float | None = None):
        self.store = store
        self.clock = clock
        self.grace = grace_seconds() if grace is None else grace
        self.first_callbacks: list[Callback] = []
        self.last_callbacks: list[Callback] = []
        # Tabs whose socket is on this worker and whose user the guard verified since it connected:
        # only these get heartbeats (a socket that replays a token without the cookie never does).
        self.local: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()

    async def tab_opened(self, user_id: int, token: str) -> None:
        previous = self.local.get(token)
        self.local[token] = user_id
        if previous is not None and previous != user_id:  # logged in as someone else in this tab
            await self.store.close_soon(previous, token, self.clock() + self.grace)
        first = await self.store.open([(user_id, token)], self.clock() + TAB_TTL)
        self._signal(self.first_callbacks, first, "first tab")

    async def socket_closed(self, token: str) -> None:
        user_id = self.local.pop(token, None)
        if user_id is not None:
            await self.store.close_soon(user_id, token, self.clock() + self.grace)

    async def tab_left(self, user_id: int, token: str) -> None:
        """The tab is no longer this user's (signed out, or a push found its socket gone): it
        goes like a closed one, after the grace period, and the sweep signals "last" if it was."""
        if self.local.get(token) == user_id:
            del self.local[token]
        await self.store.close_soon(user_id, token, self.clock() + self.grace)

    async def heartbeat(self) -> None:
        # `open`, not a plain refresh: a tab swept by mistake (a late close after a reload on
        # another worker) comes back within one heartbeat.
        first = await self.store.open(list((u, t) for t, u in self.local.items()), self.clock() + TAB_TTL)
        self._signal(self.first_callbacks, first, "first tab")

    async def sweep(self) -> None:
        self._signal(self.last_callbacks, await self.store.sweep(self.clock()), "last tab gone")

    def _signal(self, callbacks: list[Callback], user_ids: list[int], what: str) -> None:
        for user_id in user_ids:
            log.info("user %d: %s", user_id, what)
            for callback in callbacks:
                task = asyncio.get_running_loop().create_task(callback(user_id))
                self._tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("lifecycle callback failed", exc_info=task.exception())

    async def run(self) -> None:
        """Sweep every SWEEP_SECONDS and heartbeat every HEARTBEAT_SECONDS, until cancelled."""
        next_beat = 0.0
        while True:
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                    await self.heartbeat()
                await self.sweep()
            except Exception:  # Redis away for a moment: try again next round
                log.exception("tab lifecycle round failed")
            await asyncio.sleep(SWEEP_SECONDS)


_instance: Lifecycle | None = None


def instance() -> Lifecycle:
    global _instance
    if _instance is None:
        _instance = Lifecycle(RedisTabs(settings.redis_url) if settings.redis_url else MemoryTabs())
    return _instance


def on_first_tab(callback: Callback) -> None:
    """`await callback(user_id)` when a user who had no open tab on any worker opens one."""
    instance().first_callbacks.append(callback)


def on_last_tab(callback: Callback) -> None:
    """`await callback(user_id)` once the user's last tab has been gone for GRACE_SECONDS."""
    instance().last_callbacks.append(callback)


async def online(user_ids) -> set[int]:
    """Which of these users have a tab open (or closed less than the grace period ago)."""
    return await instance().store.online(list(user_ids))


async def tabs(user_ids) -> dict[int, list[str]]:
    """Each user's open tabs (tokens), on every worker: where a push goes."""
    return await instance().store.tabs(list(user_ids))


async def tab_left(user_id: int, token: str) -> None:
    await instance().tab_left(user_id, token)


async def tab_opened(user_id: int, token: str) -> None:
    """The guard verified this tab's cookie: the tab is the user's (again, after a reload)."""
    await instance().tab_opened(user_id, token)


async def _socket_closed(token: str) -> None:
    await instance().socket_closed(token)


@contextlib.asynccontextmanager
async def lifespan(app):
    """Per worker: follow socket disconnects, heartbeat this worker's tabs and sweep."""
    from corpchat.realtime import reflex_glue

    reflex_glue.add_disconnect_hook(app, _socket_closed)
    task = asyncio.get_running_loop().create_task(instance().run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
