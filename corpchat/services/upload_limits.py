"""What one user's uploads may hold while they are being read: a count, bytes against the quota,
and a share of the worker's reading pace.

Before these, the quota was checked only when a body ended (one user held 1.96 GB of temporary
files against a 50 MB quota with 20 parallel uploads) and one pace was shared first come, first
served (one user's uploads slowed another's from 0.22 s to 3.16 s). The in-flight counts and the
pace are per worker (they bound this worker's memory and event loop); how many uploads a user or
an address starts per minute is counted across all workers (`started`, services/throttle.py: in
Redis with REFLEX_REDIS_URL), so an upload-and-discard loop spread over 4 workers gets no more.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable

from corpchat.config import settings
from corpchat.services.errors import Throttled
from corpchat.services.throttle import SharedRate

PER_USER_PER_MINUTE = settings.uploads_per_minute
PER_ADDRESS_PER_MINUTE = 4 * PER_USER_PER_MINUTE  # several people behind one office NAT
_per_user = SharedRate(PER_USER_PER_MINUTE, 60, "upload-user")
_per_address = SharedRate(PER_ADDRESS_PER_MINUTE, 60, "upload-ip")


def started(user_id: int, address: str) -> None:
    """Count an upload starting; Throttled past the per-minute limit of the user or the address."""
    user_ok = _per_user.take(str(user_id))
    if not (_per_address.take(address) and user_ok):
        raise Throttled("file.err_too_many_uploads")


class Pace:
    """At most `bytes_per_second` through `take`, in arrival order (a virtual clock); the rate
    may be a function, asked at each take."""

    def __init__(self, bytes_per_second: float | Callable[[], float]):
        self._rate = bytes_per_second
        self.next = 0.0

    @property
    def rate(self) -> float:
        return self._rate() if callable(self._rate) else self._rate

    async def take(self, n: int) -> None:
        rate = self.rate
        if rate <= 0:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(self.next, now)
        self.next = start + n / rate
        if start - now > 0.002:
            await asyncio.sleep(start - now)


class _User:
    __slots__ = ("active", "waiting", "pace")

    def __init__(self):
        self.active: dict[int, int] = {}  # ticket -> bytes received so far
        self.waiting: deque[asyncio.Future] = deque()
        self.pace: Pace | None = None


class InFlight:
    """The uploads being read now, per user, with the bytes each has received so far.

    Past `per_user` an upload waits (its body unread, no file) for one to finish, as a browser
    sending ten attachments at once does; past `queued` waiting ones it is refused.
    """

    def __init__(self, per_user: int, queued: int = 16):
        self.per_user, self.queued = per_user, queued
        self._users: dict[int, _User] = {}
        self._ids = itertools.count()

    async def begin(self, user_id: int) -> int:
        mine = self._users.setdefault(user_id, _User())
        if self.per_user <= 0 or len(mine.active) < self.per_user:
            ticket = next(self._ids)
            mine.active[ticket] = 0
            return ticket
        if len(mine.waiting) >= self.queued:
            raise Throttled("file.err_too_many_uploads")
        turn = asyncio.get_running_loop().create_future()
        mine.waiting.append(turn)
        try:
            return await turn  # `end` hands over a ticket already counted as active
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.end(user_id, turn.result())
            else:
                mine.waiting.remove(turn)
                self._forget_idle(user_id)
            raise

    def add(self, user_id: int, ticket: int, n: int) -> int:
        """Count n more bytes; returns the user's in-flight total."""
        mine = self._users[user_id]
        mine.active[ticket] += n
        return sum(mine.active.values())

    def end(self, user_id: int, ticket: int) -> None:
        mine = self._users.get(user_id)
        if mine is None or mine.active.pop(ticket, None) is None:
            return
        while mine.waiting:
            turn = mine.waiting.popleft()
            if not turn.done():
                handed = next(self._ids)
                mine.active[handed] = 0
                turn.set_result(handed)
                break
        self._forget_idle(user_id)

    def _forget_idle(self, user_id: int) -> None:
        mine = self._users.get(user_id)
        if mine is not None and not mine.active and not mine.waiting:
            del self._users[user_id]

    def pace(self, user_id: int) -> Pace:
        """The user's own pace: an equal share of the worker's among the users uploading now
        (all of it for a user alone), so however many uploads one runs, the others keep theirs."""
        mine = self._users.setdefault(user_id, _User())
        if mine.pace is None:
            mine.pace = Pace(self._share)
        return mine.pace

    def _share(self) -> float:
        total = settings.upload_mb_per_second * 1024 * 1024
        uploading = sum(1 for u in self._users.values() if u.active)
        return total / max(1, uploading) if total > 0 else 0.0


_worker_pace: Pace | None = None
_in_flight: InFlight | None = None


def worker_pace() -> Pace:
    """All uploads of this worker together: reading a body costs the event loop time per chunk
    (twenty at full speed held chat messages back 200 ms at p99 on 2 cores)."""
    global _worker_pace
    if _worker_pace is None:
        _worker_pace = Pace(settings.upload_mb_per_second * 1024 * 1024)
    return _worker_pace


def in_flight() -> InFlight:
    global _in_flight
    if _in_flight is None:
        _in_flight = InFlight(settings.uploads_per_user, settings.uploads_queued_per_user)
    return _in_flight
