"""Small shared UI pieces."""

from __future__ import annotations

import reflex as rx

from corpchat import i18n
from corpchat.state.base import I18nState


def tr(key: str) -> rx.Var:
    """A UI string in the viewer's language."""
    return I18nState.tr[key]


def native_form(*children, action: str, **props) -> rx.Component:
    """A plain HTML form that the browser POSTs itself (no Reflex submit handler),
    so that the API route's response can set the HttpOnly cookie."""
    return rx.el.form(*children, action=action, method="post", on_submit=None, **props)


def language_select(on_change) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label=tr("nav.language"), variant="ghost", class_name="language-select"),
        rx.select.content(*[rx.select.item(name, value=code) for code, name in i18n.LANGUAGE_NAMES.items()]),
        value=I18nState.lang,
        on_change=on_change,
        size="1",
    )


def theme_toggle() -> rx.Component:
    return rx.icon_button(
        rx.color_mode_cond(rx.icon("moon"), rx.icon("sun")),
        on_click=rx.toggle_color_mode, variant="ghost", aria_label=tr("nav.theme"), title=tr("nav.theme"),
        class_name="theme-toggle",
    )


def avatar(initials, size: str = "3", src=None, **props) -> rx.Component:
    """Initials unless `src` is a URL (state/chat/people.py leaves it out when a block hides it)."""
    if src is None:
        return rx.avatar(fallback=initials, size=size, radius="full", variant="soft", **props)
    return rx.avatar(src=src, fallback=initials, size=size, radius="full", variant="soft", **props)


def field(label_key: str, name: str, type_: str = "text", **props) -> rx.Component:
    return rx.el.label(
        rx.text(tr(label_key), size="2", weight="medium"),
        rx.input(name=name, type=type_, required=True, size="3", width="100%", **props),
        display="flex", flex_direction="column", gap="4px", width="100%",
    )
