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

The same channel carries call signalling (api/signalling.py): a PeerJS message for a peer whose
socket another worker holds goes to that worker as ("signal", peer id, text); which worker holds
a peer's socket is a short-lived Redis key the holder sets (`claim_peer`).

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
PEER_KEY = "{prefix}:peer:{peer}"
PEER_TTL_SECONDS = 6 * 3600
RETRY_SECONDS = 1.0
SIGNAL = "signal"
_on_signal = None  # (peer_id, text) -> None: set by api/signalling.py


def on_signal(handler) -> None:
    global _on_signal
    _on_signal = handler


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
                        if isinstance(batch, tuple) and batch[:1] == (SIGNAL,):
                            if _on_signal is not None:
                                _on_signal(batch[1], batch[2])
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


    async def publish_signal(self, instance_id: str, peer_id: str, text: str) -> int:
        """A signalling message for the peer whose socket `instance_id` holds; returns how many listened."""
        try:
            return int(await self._redis.publish(_channel(instance_id), pickle.dumps((SIGNAL, peer_id, text))))
        except Exception:
            log.exception("routing a signal to worker %s failed", instance_id)
            return 0

    async def claim_peer(self, peer_id: str, instance_id: str) -> None:
        await self._redis.set(_peer_key(peer_id), instance_id, ex=PEER_TTL_SECONDS)

    async def release_peer(self, peer_id: str, instance_id: str) -> None:
        key = _peer_key(peer_id)
        if (await self._redis.get(key) or b"").decode() == instance_id:
            await self._redis.delete(key)

    async def peer_owner(self, peer_id: str) -> str | None:
        owner = await self._redis.get(_peer_key(peer_id))
        return owner.decode() if owner else None


def _peer_key(peer_id: str) -> str:
    from corpchat.realtime.lifecycle import key_prefix

    return PEER_KEY.format(prefix=key_prefix(), peer=peer_id)


def _channel(instance_id: str) -> str:
    from corpchat.realtime.lifecycle import key_prefix

    return CHANNEL.format(prefix=key_prefix(), instance=instance_id)


def create(redis_url: str) -> Router:
    return Router(redis_url, settings.redis_max_connections)
