"""Counting recent login failures (and registrations) per login and per IP address.

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


class LoginThrottle:
    """Failed logins, counted so that nobody can lock an account's owner out.

    A guessing address is stopped per (login, address) and per address. Failures against
    one login from many addresses (a spray from a botnet) stop only addresses that have
    never logged in to that login: its owner, from where they logged in before, still can,
    and one address alone never reaches the login-wide limit (the pair limit stops it first).
    """

    # Addresses remembered per login, and logins remembered at all (oldest forgotten first).
    KNOWN_PER_LOGIN = 8
    KNOWN_LOGINS = 100_000

    def __init__(self, max_failures: int, window_seconds: int, ip_factor: int = 4, spread_factor: int = 4):
        self._pair = FailureCounter(max_failures, window_seconds)
        self._ip = FailureCounter(max_failures * ip_factor, window_seconds)
        self._login = FailureCounter(max_failures * spread_factor, window_seconds)
        self._known: dict[str, dict[str, None]] = {}
        self._lock = threading.Lock()

    def _is_known(self, login: str, ip: str) -> bool:
        with self._lock:
            return ip in self._known.get(login, ())

    def blocked(self, login: str, ip: str) -> bool:
        if self._pair.blocked(f"{login}\n{ip}") or self._ip.blocked(ip):
            return True
        return not self._is_known(login, ip) and self._login.blocked(login)

    def failed(self, login: str, ip: str) -> None:
        self._pair.fail(f"{login}\n{ip}")
        self._ip.fail(ip)
        if not self._is_known(login, ip):
            self._login.fail(login)

    def succeeded(self, login: str, ip: str) -> None:
        self._pair.reset(f"{login}\n{ip}")
        with self._lock:
            known = self._known.pop(login, {})
            known.pop(ip, None)
            known[ip] = None
            while len(known) > self.KNOWN_PER_LOGIN:
                del known[next(iter(known))]
            self._known[login] = known
            while len(self._known) > self.KNOWN_LOGINS:
                del self._known[next(iter(self._known))]
