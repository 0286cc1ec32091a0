"""How fast one user may act: a token bucket per (action, user).

Generous for people (a burst covers pasting several messages at once; the
sustained rate is far above typing), tight for a script: one socket stored
2,000 messages in 2.8 s before this. `send_sync` (tests and scripts) is not limited.

These stay per worker (each keeps its own buckets, so 4 workers allow 4x, still
bounded), unlike the login, registration, upload and signalling limits
(services/throttle.py, shared in Redis). Measured here (issue 24): an in-process
take costs 0.6 us, a Redis-backed check 60 us (fixed window, one round trip) to
80 us (moving window) on a loaded 2-core machine, paid on every send, edit,
reaction and draft save. Beyond the cost, a shared bucket ties sending to Redis:
while Redis is down (make faults, outage c) every send would wait on it or be let
through anyway, and a user's tabs are pinned to one worker by their socket, so a
script gets the multiplied rate only by opening sockets on several workers, which
the per-socket frame limits and the per-address limits already bound.
"""

from __future__ import annotations

import threading
import time

from corpchat.config import settings
from corpchat.services.errors import Throttled


class TokenBucket:
    MAX_KEYS = 100_000

    def __init__(self, burst: int, per_minute: int):
        self.burst = float(burst)
        self.rate = per_minute / 60.0
        self._buckets: dict[int, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                self._forget_full(now)
            self._buckets[key] = (tokens - 1, now)
            return True

    def _forget_full(self, now: float) -> None:
        """Buckets that refilled hold nothing worth keeping (bounds memory under many users)."""
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]


_LIMITS = {
    "send": TokenBucket(settings.send_burst, settings.send_per_minute),
    "edit": TokenBucket(settings.edit_burst, settings.edit_per_minute),
    "react": TokenBucket(settings.react_burst, settings.react_per_minute),
    # Saved after each pause in typing (0.7 s) and on blur: a person stays far below this.
    "draft": TokenBucket(30, 120),
    # Each avatar is a full image decode: a person changes it a few times, a script in a loop.
    "avatar": TokenBucket(settings.avatar_burst, settings.avatar_per_minute),
    # Each is pushed to every contact: one name flipped in a loop was 64,000 frames in 16 s.
    "profile": TokenBucket(settings.profile_burst, settings.profile_per_minute),
    # Each rings every tab of the callee: a person calls a few times a minute, a script in a loop.
    "call": TokenBucket(5, 10),
    "call_media": TokenBucket(20, 60),  # camera and microphone toggles, each told to the others
    "open_chat": TokenBucket(settings.open_chat_burst, settings.open_chat_per_minute),
}


def check(action: str, user_id: int) -> None:
    """Raise Throttled (a clear, localised message) when `user_id` acts faster than allowed."""
    if not _LIMITS[action].take(user_id):
        raise Throttled("err.too_fast")
