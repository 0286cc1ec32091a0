"""Login and registration pages (forms post to corpchat.api.auth_routes)."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import field, language_select, native_form, theme_toggle, tr
from corpchat.config import settings
from corpchat.state.auth_pages import PublicPageState


def _card(title_key: str, form: rx.Component, footer: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading(tr("app.name"), size="6"),
                    rx.spacer(),
                    language_select(PublicPageState.choose_language),
                    theme_toggle(),
                    width="100%", align="center",
                ),
                rx.heading(tr(title_key), size="4", weight="medium"),
                rx.cond(
                    PublicPageState.error != "",
                    rx.callout(PublicPageState.error, icon="triangle_alert", color_scheme="red",
                               width="100%", id="form-error"),
                ),
                form,
                footer,
                spacing="4", width="100%",
            ),
            width="min(400px, 94vw)", size="3",
        ),
        min_height="100dvh", padding="12px",
    )


def login_page() -> rx.Component:
    form = native_form(
        rx.vstack(
            field("auth.username", "login", auto_complete="username", default_value=PublicPageState.login_value,
                  id="login"),
            field("auth.password", "password", "password", auto_complete="current-password", id="password"),
            rx.button(tr("auth.login"), type="submit", size="3", width="100%", id="submit"),
            spacing="3", width="100%",
        ),
        action="/api/login", width="100%",
    )
    footer = rx.hstack(rx.text(tr("auth.no_account"), size="2"),
                       rx.link(tr("auth.register"), href="/register", size="2", id="to-register"))
    return _card("auth.login", form, footer)


def register_page() -> rx.Component:
    # REGISTRATION is read when the app is built: the page a deployment serves matches its setting.
    invite = ([field("auth.invite", "invite", auto_complete="off", id="invite", max_length=200)]
              if settings.registration == "invite" else [])
    form = native_form(
        rx.vstack(
            field("auth.username", "login", auto_complete="username", default_value=PublicPageState.login_value,
                  id="login", min_length=3, max_length=32),
            field("auth.password", "password", "password", auto_complete="new-password", id="password"),
            field("auth.password_repeat", "password_repeat", "password", auto_complete="new-password",
                  id="password_repeat"),
            *invite,
            rx.button(tr("auth.register"), type="submit", size="3", width="100%", id="submit"),
            spacing="3", width="100%",
        ),
        action="/api/register", width="100%",
    )
    if settings.registration == "closed":
        form = rx.text(tr("err.registration_closed"), size="2", id="registration-closed")
    footer = rx.hstack(rx.text(tr("auth.have_account"), size="2"),
                       rx.link(tr("auth.login"), href="/login", size="2", id="to-login"))
    return _card("auth.register", form, footer)
