"""The one "are you sure?" dialog of the chat page (state/chat/confirm.py)."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import tr
from corpchat.state.chat import ChatState


def confirm_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(rx.match(ChatState.confirming, ("chat", tr("chat.confirm_delete_chat")),
                                           ("member", tr("group.confirm_remove")), tr("chat.confirm_delete_all"))),
            rx.alert_dialog.description(ChatState.confirm_text, size="2"),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(tr("chat.cancel"), variant="soft", color_scheme="gray",
                                                 on_click=ChatState.dismiss_confirm, id="confirm-cancel")),
                rx.alert_dialog.action(rx.button(rx.cond(ChatState.confirming == "member", tr("group.remove_ok"),
                                                         tr("chat.delete")), color_scheme="red",
                                                 on_click=ChatState.confirm_delete, id="confirm-ok")),
                spacing="3", justify="end", margin_top="16px",
            ),
            on_escape_key_down=ChatState.dismiss_confirm,
            max_width="min(440px, 92vw)", id="confirm-dialog",
        ),
        open=ChatState.confirming != "",
    )
