"""Several workers (REFLEX_REDIS_URL): a tab's events are applied by the worker holding its socket.

Without this, the worker that handled a send changed the state of every
recipient tab itself: with Redis as state manager each of those changes is a
Redis lock, a state load (unpickle) and a save (pickle), all on the sending
worker's one core, while the workers holding the sockets only forwarded the
resulting frames ("lost and found"). Measured with 200 members on 2 workers:
the sender's worker spent half its time in BaseState._deserialize/_serialize.

Here the hub asks Reflex's token manager which worker owns each tab
(`_get_token_owner`: the socket record in Redis, cached locally) and publishes
one batch per owning worker on that worker's channel; the owner queues the
events in its local mailboxes (mailbox.post), so the work of a fan-out is split
over the workers and a tab's state is changed where its socket is. If nobody
listens on a channel (publish reaches 0 subscribers), the events are applied
by the publishing worker as before.

The channel carries pickles, like Reflex's own state and lost-and-found
records in the same Redis: Redis is trusted infrastructure here.
"""

from __future__ import annotations

import asyncio
import logging
import pickle

from corpchat.config import settings
from corpchat.services.events import Event

log = logging.getLogger(__name__)

CHANNEL = "{prefix}:push:{instance}"
RETRY_SECONDS = 1.0


class Router:
    def __init__(self, url: str, max_connections: int):
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, max_connections=max_connections)
        self._task: asyncio.Task | None = None

    def ensure_listening(self, instance_id: str, on_batch) -> None:
        """Subscribe this worker to its channel (once; restarted if the subscription died)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen(instance_id, on_batch))

    async def _listen(self, instance_id: str, on_batch) -> None:
        channel = _channel(instance_id)
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            batch = pickle.loads(message["data"])
                        except Exception:
                            log.exception("unreadable push batch on %s", channel)
                            continue
                        on_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("push channel %s lost; resubscribing", channel)
                await asyncio.sleep(RETRY_SECONDS)

    async def publish(self, instance_id: str, batch: list[tuple[int, str, list[Event]]]) -> int:
        """Hand (user, tab, events) triples to the worker `instance_id`; returns how many listened."""
        try:
            return int(await self._redis.publish(_channel(instance_id), pickle.dumps(batch)))
        except Exception:
            log.exception("publishing %d pushes to worker %s failed", len(batch), instance_id)
            return 0


def _channel(instance_id: str) -> str:
    from corpchat.realtime.lifecycle import key_prefix

    return CHANNEL.format(prefix=key_prefix(), instance=instance_id)


def create(redis_url: str) -> Router:
    return Router(redis_url, settings.redis_max_connections)
