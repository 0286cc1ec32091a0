"""A categorised emoji menu with recently used emoji (emoji-mart, its data bundled)."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import passthrough_event_spec

from corpchat.state.base import I18nState


class EmojiPicker(rx.NoSSRComponent):
    library = f"$/public{rx.asset('emoji_picker.jsx', shared=True)}"
    lib_dependencies: list[str] = ["emoji-mart@5.6.0", "@emoji-mart/data@1.2.1"]
    tag = "EmojiPicker"

    insert_into: rx.Var[str]
    locale: rx.Var[str]
    theme: rx.Var[str]
    on_select: rx.EventHandler[passthrough_event_spec(str)]


def emoji_picker(insert_into: str = "", on_select=None) -> rx.Component:
    props = {"insert_into": insert_into, "locale": I18nState.lang,
             "theme": rx.color_mode_cond("light", "dark")}
    if on_select is not None:
        props["on_select"] = on_select
    return EmojiPicker.create(**props)
