"""Counting recent login failures (and registrations) per login and per IP address.

In-process: with several workers each keeps its own count, so the effective
limit is multiplied by the worker count (still bounded). Which addresses a user
logged in from is kept in the database (services/accounts.py), across restarts.
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


class LoginThrottle:
    """Failed logins, counted so that nobody can lock an account's owner out.

    A guessing address is stopped per (login, address), per address and, for a spray from
    many addresses, per login. Only the pair limit applies where the login's owner logged in
    before (`known`, remembered in the database by services/accounts.py): others failing at
    a shared address (an office NAT, a proxy) or from a botnet cannot lock the owner out of
    the places they use, and the owner's own typos there do not count against anyone else.
    """

    def __init__(self, max_failures: int, window_seconds: int, ip_factor: int = 4, spread_factor: int = 4):
        self._pair = FailureCounter(max_failures, window_seconds)
        self._ip = FailureCounter(max_failures * ip_factor, window_seconds)
        self._login = FailureCounter(max_failures * spread_factor, window_seconds)

    def blocked(self, login: str, ip: str, known: bool) -> bool:
        if self._pair.blocked(f"{login}\n{ip}"):
            return True
        return not known and (self._ip.blocked(ip) or self._login.blocked(login))

    def failed(self, login: str, ip: str, known: bool) -> None:
        self._pair.fail(f"{login}\n{ip}")
        if not known:
            self._ip.fail(ip)
            self._login.fail(login)

    def succeeded(self, login: str, ip: str) -> None:
        self._pair.reset(f"{login}\n{ip}")
