"""Refuse to start in a configuration that would silently misbehave."""

from __future__ import annotations

import os

from corpchat.config import ConfigError, Settings


def worker_count() -> int:
    raw = os.environ.get("GRANIAN_WORKERS") or os.environ.get("WEB_CONCURRENCY") or "1"
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"GRANIAN_WORKERS must be an integer, got {raw!r}") from exc


def check_startup(settings: Settings) -> None:
    # Without Redis each worker only reaches its own tabs: messages would be lost silently.
    if worker_count() > 1 and not settings.redis_url:
        raise ConfigError("Several workers need REFLEX_REDIS_URL (they share tabs through Redis); "
                          "set it or run one worker.")
    if settings.is_production:
        settings.check_secret()
