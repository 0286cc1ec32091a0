"""Settings: language, theme, password change, logout."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import field, language_select, native_form, theme_toggle, tr
from corpchat.state.settings import SettingsState


def logout_button() -> rx.Component:
    return native_form(
        rx.button(rx.icon("log-out"), tr("auth.logout"), type="submit", variant="soft", color_scheme="red",
                  id="logout"),
        action="/api/logout",
    )


def settings_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.link(rx.icon_button(rx.icon("arrow-left"), variant="ghost"), href="/", id="to-chats"),
                    rx.heading(tr("nav.settings"), size="5"),
                    rx.spacer(),
                    theme_toggle(),
                    width="100%", align="center",
                ),
                rx.hstack(rx.text(tr("nav.language")), language_select(SettingsState.change_language),
                          align="center"),
                rx.text("@", SettingsState.me_login, color_scheme="gray", id="me-login"),
                rx.separator(),
                rx.heading(tr("auth.change_password"), size="3"),
                rx.cond(SettingsState.error != "",
                        rx.callout(SettingsState.error, icon="triangle_alert", color_scheme="red", width="100%",
                                   id="form-error")),
                rx.cond(SettingsState.notice != "",
                        rx.callout(SettingsState.notice, icon="check", color_scheme="green", width="100%",
                                   id="form-notice")),
                native_form(
                    rx.vstack(
                        field("auth.old_password", "old_password", "password", auto_complete="current-password"),
                        field("auth.new_password", "new_password", "password", auto_complete="new-password"),
                        field("auth.password_repeat", "new_password_repeat", "password",
                              auto_complete="new-password"),
                        rx.button(tr("auth.save"), type="submit", id="save-password"),
                        spacing="3", width="100%",
                    ),
                    action="/api/password", width="100%",
                ),
                rx.separator(),
                logout_button(),
                spacing="4", width="100%",
            ),
            width="min(480px, 96vw)", size="3",
        ),
        min_height="100dvh", padding="12px",
    )
