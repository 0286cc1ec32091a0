"""Reflex configuration. Security-relevant defaults are set here, not left to chance."""

import os

import reflex as rx

from corpchat.config import settings

config = rx.Config(
    app_name="corpchat",
    # The WebSocket accepts any Origin unless told otherwise.
    # APP_ORIGIN's origins and their other local spelling (127.0.0.1 / localhost).
    cors_allowed_origins=[o.strip() for o in os.environ.get("REFLEX_CORS_ALLOWED_ORIGINS", "").split(",")
                          if o.strip()] or list(settings.app_origins),
    # state_auto_setters is off by default in 0.10 (tests/unit/test_security_defaults.py keeps it so).
    telemetry_enabled=False,
    # PostgreSQL is the source of truth and a reconnect reloads from it, so tab state
    # need not survive a restart: memory, not the default pickle-to-disk on every change.
    # With REFLEX_REDIS_URL (several workers) the states live in Redis.
    state_manager_mode="redis" if settings.redis_url else "memory",
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="large"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
