"""Counting recent login failures per login and per IP address.

In-process: with several workers each keeps its own count, so the effective
limit is multiplied by the worker count (still bounded).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class FailureCounter:
    def __init__(self, max_failures: int, window_seconds: int):
        self.max_failures = max_failures
        self.window = window_seconds
        self._events: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque:
        q = self._events[key]
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._trim(k, now)) >= self.max_failures for k in keys)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._trim(k, now).append(now)
            if len(self._events) > 100_000:  # bound memory under a spray of logins
                for k in [k for k, q in self._events.items() if not q]:
                    del self._events[k]

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
