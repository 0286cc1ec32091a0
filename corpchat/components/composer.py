"""The message composer: Enter sends, Shift+Enter breaks the line, Up edits the last message."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars import Var

from corpchat.components.attachments import attacher
from corpchat.components.common import tr
from corpchat.components.emoji_picker import emoji_picker
from corpchat.components.recorder import circle_recorder, voice_recorder
from corpchat.state.chat import ChatState
from corpchat.state.chat.drafts import COMPOSER_ID

DRAFT_SAVE_MS = 700  # a pause in typing this long saves the draft (one round trip, not one per key)
# Emptied at once on send, in the browser: a form reset would bring back the box's initial text
# (the draft it was opened with). Not rx.set_value: queued as an event, it sometimes ran before
# the form's data was read, and the message went out empty (refused, the text lost; CI saw it).
_CLEAR = rx.call_script(f"(() => {{ const t = document.getElementById('{COMPOSER_ID}'); if (t) t.value = ''; }})()")


def _key_and_empty(e) -> tuple[Var[str], Var[bool]]:
    """The key, and whether the textarea it was pressed in is empty."""
    return (e.key.to(str), Var(f"((({e}).target.value || '').trim() === '')").to(bool))


class KeyScope(rx.el.Div):
    """A div that reports key presses inside it together with the field's emptiness."""

    on_key_down: rx.EventHandler[_key_and_empty]


def _emoji_button() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(rx.icon_button(rx.icon("smile"), variant="ghost", type="button", id="emoji-button",
                                          aria_label=tr("chat.emoji"))),
        rx.popover.content(emoji_picker(insert_into=COMPOSER_ID), padding="0"),
    )


def composer() -> rx.Component:
    return rx.form(
        KeyScope.create(
            rx.hstack(
                attacher(),
                _emoji_button(),
                rx.text_area(
                    name="text", id=COMPOSER_ID, placeholder=tr("chat.placeholder"),
                    enter_key_submit=True, auto_height=True, rows="1",
                    flex="1", size="2", resize="none", max_height="40vh",
                    # A new box per room, holding that room's draft: text typed in one chat can
                    # never stay in the box when another opens. Every save names its room.
                    # No max_length: the browser would cut a long paste silently; the server
                    # refuses it with the limit named, and the text stays in the box.
                    key=ChatState.room_id, default_value=ChatState.draft,
                    on_change=lambda text: ChatState.save_draft(ChatState.room_id, text).debounce(DRAFT_SAVE_MS),
                    on_blur=lambda text: ChatState.save_draft(ChatState.room_id, text),
                ),
                voice_recorder(),
                circle_recorder(),
                rx.icon_button(rx.icon("send"), type="submit", id="send-button", aria_label=tr("chat.send")),
                rx.el.input(type="hidden", name="typed_in", value=ChatState.room_id.to_string()),
                align="end", width="100%", spacing="2", position="relative",
            ),
            on_key_down=ChatState.composer_key,
            width="100%",
        ),
        on_submit=[_CLEAR, ChatState.send_message],
        reset_on_submit=False,
        width="100%", padding="8px",
        border_top="1px solid var(--gray-a5)",
    )


def edit_box(message) -> rx.Component:
    return rx.form(
        KeyScope.create(
            rx.text_area(name="text", default_value=ChatState.editing_text, enter_key_submit=True,
                         auto_height=True, id="edit-box", auto_focus=True, width="100%"),
            on_key_down=ChatState.edit_key,
        ),
        rx.hstack(
            rx.text(tr("chat.editing"), size="1", color_scheme="gray"),
            rx.spacer(),
            rx.button(tr("chat.cancel"), type="button", variant="soft", size="1", on_click=ChatState.cancel_edit),
            rx.button(tr("auth.save"), type="submit", size="1", id="edit-save"),
            width="100%",
        ),
        on_submit=ChatState.save_edit,
        width="100%",
    )
