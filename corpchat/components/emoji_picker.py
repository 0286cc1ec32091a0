"""A categorised emoji menu with recently used emoji: emoji-mart's own React wrapper.

`@emoji-mart/react` is wrapped directly (issue 21): typed props in, the chosen emoji's
character out through `on_emoji_select`. The emoji data and the uk/ru/en translations are
bundled with the app (nothing comes from a CDN) and loaded when a picker first opens, so
they are not part of every page's first download. The one thing left to JS is putting a
character at the composer's caret (`caret.js`, a few lines, no markup).
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx
from reflex_base.utils.imports import ImportVar
from reflex_base.vars import Var, VarData

from corpchat import i18n
from corpchat.state.base import I18nState

_CARET_JS = f"$/public{rx.asset('caret.js', shared=True)}"


def _native(emoji: Var) -> tuple[Var[str]]:
    """emoji-mart's `onEmojiSelect` argument -> the emoji itself (e.g. "😀")."""
    return (Var(f"({emoji!s})?.native", _var_type=str),)


class EmojiPicker(rx.NoSSRComponent):
    """`Picker` from @emoji-mart/react (a default export); loaded in the browser only."""

    library = "@emoji-mart/react@1.1.1"
    lib_dependencies: list[str] = ["emoji-mart@5.6.0", "@emoji-mart/data@1.2.1"]
    tag = "Picker"
    alias = "EmojiMartPicker"
    is_default = True

    # The emoji set, or a function returning (a promise of) it.
    data: rx.Var[Any]
    # The picker's own labels (search, categories), or a function returning them.
    i18n: rx.Var[Any]
    # "auto" | "light" | "dark"
    theme: rx.Var[str]
    # "top" | "bottom" | "none"
    preview_position: rx.Var[str]
    # "preview" | "search" | "none"
    skin_tone_position: rx.Var[str]
    max_frequent_rows: rx.Var[int]

    on_emoji_select: rx.EventHandler[_native]


def _bundled(path: str) -> str:
    return f"(() => import({json.dumps(path)}).then((m) => m.default))"


# Code-split: the ~400 kB emoji set is fetched (from this server) when a picker first opens.
_DATA = Var(_bundled("@emoji-mart/data"))


def _translations(lang: Var[str]) -> Var:
    """The translation table for `lang` (the UI language), English for anything else."""
    loaders = ", ".join(f"{code}: {_bundled(f'@emoji-mart/data/i18n/{code}.json')}" for code in i18n.LANGUAGES)
    return Var(f"(({{{loaders}}})[{lang!s}] ?? {_bundled('@emoji-mart/data/i18n/en.json')})",
               _var_data=lang._get_all_var_data())


def insert_at_caret(element_id: str, text: Var[str]) -> rx.event.EventSpec:
    """A browser-side event: `text` goes in at the caret of the textarea `element_id`."""
    call = Var(f"insertAtCaret({json.dumps(element_id)}, {text!s})",
               _var_data=VarData.merge(VarData(imports={_CARET_JS: [ImportVar(tag="insertAtCaret")]}),
                                       text._get_all_var_data()))
    return rx.run_script(call)


def emoji_picker(insert_into: str = "", on_select=None) -> rx.Component:
    """The picker; a chosen emoji goes in at the caret of the textarea `insert_into` and/or to
    `on_select` (a handler or a lambda taking the emoji string)."""
    def chosen(emoji) -> list:
        events = [insert_at_caret(insert_into, emoji)] if insert_into else []
        if on_select is not None:
            events.append(on_select(emoji))
        return events

    picker = EmojiPicker.create(
        data=_DATA,
        i18n=_translations(I18nState.lang),
        theme=rx.color_mode_cond("light", "dark"),
        preview_position="none",
        skin_tone_position="none",
        max_frequent_rows=1,
        on_emoji_select=chosen,
        # A new picker when the UI language changes (emoji-mart reads its labels once).
        key=I18nState.lang,
    )
    return rx.el.div(picker, custom_attrs={"data-testid": "emoji-picker"})
