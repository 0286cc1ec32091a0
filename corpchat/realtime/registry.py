"""Who is connected: user id -> the client tokens of their open tabs.

In-process without Redis; a Redis set per user with REFLEX_REDIS_URL, so that
every worker sees every tab (Reflex routes the push to the owning worker).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from functools import cache

from corpchat.config import settings

TAB_TTL_SECONDS = 24 * 3600


@cache
def key_prefix() -> str:
    """Our Redis keys and channels start with this: REDIS_KEY_PREFIX, or one derived from the
    database, so two deployments sharing a Redis database never see each other's tabs."""
    if settings.redis_key_prefix:
        return settings.redis_key_prefix
    from corpchat.db import database_url

    return "corpchat:" + hashlib.sha256(database_url().encode()).hexdigest()[:12]


class LocalRegistry:
    def __init__(self):
        self._tabs: dict[int, set[str]] = defaultdict(set)

    async def add(self, user_id: int, token: str) -> None:
        self._tabs[user_id].add(token)

    async def remove(self, user_id: int, token: str) -> None:
        tabs = self._tabs.get(user_id)
        if tabs is not None:
            tabs.discard(token)
            if not tabs:
                del self._tabs[user_id]

    async def tabs(self, user_ids) -> dict[int, list[str]]:
        return {u: list(self._tabs.get(u, ())) for u in user_ids}


class RedisRegistry:
    def __init__(self, url: str, max_connections: int):
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, max_connections=max_connections, decode_responses=True)

    @staticmethod
    def _key(user_id: int) -> str:
        return f"{key_prefix()}:tabs:{user_id}"

    async def add(self, user_id: int, token: str) -> None:
        key = self._key(user_id)
        async with self._redis.pipeline(transaction=False) as p:
            await p.sadd(key, token).expire(key, TAB_TTL_SECONDS).execute()

    async def remove(self, user_id: int, token: str) -> None:
        await self._redis.srem(self._key(user_id), token)

    async def tabs(self, user_ids) -> dict[int, list[str]]:
        user_ids = list(user_ids)
        async with self._redis.pipeline(transaction=False) as p:
            for u in user_ids:
                p.smembers(self._key(u))
            results = await p.execute()
        return {u: list(r) for u, r in zip(user_ids, results)}


def create():
    if settings.redis_url:

        return RedisRegistry(settings.redis_url, settings.redis_max_connections)
    return LocalRegistry()
