"""Refuse to start in a configuration that would silently misbehave."""

from __future__ import annotations

from corpchat.config import ConfigError, Settings, worker_count


def check_startup(settings: Settings) -> None:
    # Without Redis each worker only reaches its own tabs: messages would be lost silently.
    if worker_count() > 1 and not settings.redis_url:
        raise ConfigError("Several workers need REFLEX_REDIS_URL (they share tabs through Redis); "
                          "set it or run one worker.")
    if settings.is_production:
        settings.check_secret()
