"""Counting recent login failures (and registrations) per login and per IP address.

Counted by `limits` (a maintained limiter, moving windows): with REFLEX_REDIS_URL in Redis, so
every worker counts the same attempts (4 workers no longer allow 4x the guesses); without it in
this process (a single worker). Which addresses a user logged in from is kept in the database
(services/accounts.py), across restarts.
"""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from corpchat.config import settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _storage() -> tuple[Storage, str]:
    """The storage, and what our keys start with: in Redis the deployment's key prefix (two
    deployments, or two test runs, sharing a Redis never count each other's attempts)."""
    if not settings.redis_url:
        return MemoryStorage(), ""
    from corpchat.realtime.lifecycle import key_prefix  # the one definition of our Redis prefix

    return storage_from_string(settings.redis_url), key_prefix()


@lru_cache(maxsize=1)
def _limiter() -> tuple[MovingWindowRateLimiter, str]:
    storage, prefix = _storage()
    return MovingWindowRateLimiter(storage), prefix


@lru_cache(maxsize=1)
def _fixed() -> tuple[FixedWindowRateLimiter, str]:
    storage, prefix = _storage()
    return FixedWindowRateLimiter(storage), prefix


class FailureCounter:
    """At most `max_failures` per key in any `window_seconds`. Counters with the same `name` count
    together (in every worker, with Redis); without a name a counter counts alone (tests)."""

    def __init__(self, max_failures: int, window_seconds: int, name: str | None = None):
        self._limit = RateLimitItemPerSecond(max_failures, window_seconds, namespace="corpchat")
        self._name = name or f"anon-{secrets.token_hex(8)}"

    def blocked(self, *keys: str) -> bool:
        limiter, prefix = _limiter()
        return any(not limiter.test(self._limit, prefix, self._name, k) for k in keys)

    def fail(self, *keys: str) -> None:
        limiter, prefix = _limiter()
        for k in keys:
            limiter.hit(self._limit, prefix, self._name, k)

    def reset(self, key: str) -> None:
        limiter, prefix = _limiter()
        limiter.clear(self._limit, prefix, self._name, key)


class SharedRate:
    """At most `per_window` actions per key in each `window_seconds`, counted together by every
    worker with Redis. A fixed window (one INCR per key in Redis) rather than the moving one of
    the login counters: it is asked on every upload and signalling message, where the moving
    window's list per key costs several times more, and a burst of twice the limit across a
    window edge is harmless for a flood limit (it is not a guess count)."""

    def __init__(self, per_window: int, window_seconds: int, name: str | None = None):
        self._limit = RateLimitItemPerSecond(per_window, window_seconds, namespace="corpchat")
        self._name = name or f"anon-{secrets.token_hex(8)}"

    def take(self, *keys: str) -> bool:
        """Count one action for each key; False when any key is over its limit."""
        limiter, prefix = _fixed()
        try:
            return all([limiter.hit(self._limit, prefix, self._name, k) for k in keys])
        except Exception:  # Redis down: a flood limit must not stop uploads and calls with it
            log.warning("shared rate %s not counted: storage unavailable", self._name, exc_info=True)
            return True


class LoginThrottle:
    """Failed logins, counted so that nobody can lock an account's owner out.

    A guessing address is stopped per (login, address), per address and, for a spray from
    many addresses, per login. Only the pair limit applies where the login's owner logged in
    before (`known`, remembered in the database by services/accounts.py): others failing at
    a shared address (an office NAT, a proxy) or from a botnet cannot lock the owner out of
    the places they use, and the owner's own typos there do not count against anyone else.
    """

    def __init__(self, max_failures: int, window_seconds: int, ip_factor: int = 4, spread_factor: int = 4,
                 name: str | None = None):
        name = name or f"anon-{secrets.token_hex(8)}"
        self._pair = FailureCounter(max_failures, window_seconds, f"{name}-pair")
        self._ip = FailureCounter(max_failures * ip_factor, window_seconds, f"{name}-ip")
        self._login = FailureCounter(max_failures * spread_factor, window_seconds, f"{name}-login")

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
