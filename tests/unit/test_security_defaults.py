"""Security settings that Reflex would otherwise leave open."""

from __future__ import annotations

import importlib

import pytest
import reflex as rx

from corpchat.config import ConfigError, settings
from corpchat.runtime_checks import check_startup


def test_cors_is_the_app_origin_and_auto_setters_are_off(monkeypatch):
    """APP_ORIGIN, and the other local spelling of it (127.0.0.1 / localhost)."""
    monkeypatch.delenv("REFLEX_CORS_ALLOWED_ORIGINS", raising=False)
    import rxconfig

    cfg = importlib.reload(rxconfig).config
    assert list(cfg.cors_allowed_origins) == list(settings.app_origins)
    assert cfg.cors_allowed_origins[0] == settings.app_origin
    assert "*" not in cfg.cors_allowed_origins
    assert cfg.state_auto_setters is False


def test_several_workers_without_redis_are_refused(monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("GRANIAN_WORKERS", "4")
    with pytest.raises(ConfigError, match="REFLEX_REDIS_URL"):
        check_startup(replace(settings, redis_url=""))
    check_startup(replace(settings, redis_url="redis://127.0.0.1:6379/0"))


def test_every_handler_authenticates():
    """Public handlers of the logged-in states are wrapped by @authed (or are the page guard)."""
    from corpchat.state.chat import ChatState
    from corpchat.state.profile import ProfileState
    from corpchat.state.settings import SettingsState

    # setvar only calls existing set_* handlers, and there are none (auto setters are off).
    # load_again only re-runs the page guard, after a load the database did not answer.
    exempt = {"load_chat_page", "load_again", "load_group_page", "load_settings_page", "load_profile_page", "setvar"}
    for cls in (ChatState, SettingsState, ProfileState):
        for name, handler in cls.event_handlers.items():
            if name in exempt:
                continue
            assert hasattr(handler.fn, "__wrapped__"), f"{cls.__name__}.{name} is not @authed"
        assert not [n for n in cls.event_handlers if n.startswith("set_") and n not in
                    ("set_timezone",)], "unexpected setter handlers"


def test_user_id_is_backend_only():
    from corpchat.state.base import AuthState

    for name in ("_user_id", "_session_version", "_verified_at"):
        assert name not in AuthState.vars and name not in AuthState.computed_vars
    assert isinstance(AuthState, type) and issubclass(AuthState, rx.State)


def test_hsts_only_when_served_over_https(monkeypatch):
    import dataclasses

    from corpchat import config
    from corpchat.api import headers

    monkeypatch.setattr(headers, "content_security_policy", lambda: "default-src 'self'")
    for origin, hsts in (("https://chat.example.com", True), ("http://127.0.0.1:3000", False)):
        monkeypatch.setattr(config, "settings", dataclasses.replace(config.settings, app_origin=origin))
        got = headers.security_headers.__wrapped__()
        assert ("strict-transport-security" in got) is hsts, origin


def test_bcrypt_rounds_come_from_the_settings(monkeypatch):
    from corpchat import config
    from corpchat.services import accounts

    monkeypatch.setenv("BCRYPT_ROUNDS", "5")
    assert config.load().bcrypt_rounds == 5
    assert accounts._rounds() == config.settings.bcrypt_rounds
