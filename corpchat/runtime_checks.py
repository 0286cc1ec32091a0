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
    if settings.registration not in ("open", "closed", "invite"):
        raise ConfigError("REGISTRATION is open, closed or invite.")
    if settings.registration == "invite" and len(settings.registration_invite_code) < 8:
        raise ConfigError("REGISTRATION=invite needs REGISTRATION_INVITE_CODE of 8 characters or more.")
    if settings.directory not in ("everyone", "contacts"):
        raise ConfigError("DIRECTORY is everyone or contacts.")
