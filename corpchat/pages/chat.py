"""The app shell: sidebar + main pane (one pane at a time on a phone)."""

from __future__ import annotations

import reflex as rx

from corpchat.components.calls import call_screen
from corpchat.components.common import tr
from corpchat.components.confirm import confirm_dialog
from corpchat.components.groups import new_group_dialog
from corpchat.components.messages import empty_pane, room_pane
from corpchat.components.people import profile_card
from corpchat.components.sidebar import sidebar
from corpchat.state.chat import ChatState


def signed_out_overlay() -> rx.Component:
    return rx.cond(
        ChatState.signed_out,
        rx.center(
            rx.card(rx.vstack(rx.text(tr("err.not_authenticated")),
                              rx.link(rx.button(tr("auth.login")), href="/login"))),
            position="fixed", inset="0", background="var(--black-a8)", z_index="100",
        ),
    )


def chat_page() -> rx.Component:
    open_room = ChatState.room_id > 0
    return rx.hstack(
        rx.box(sidebar(), height="100%", border_right="1px solid var(--gray-a5)", id="sidebar"),
        rx.box(rx.cond(open_room, room_pane(), empty_pane()), height="100%", id="main-pane"),
        signed_out_overlay(),
        confirm_dialog(),
        new_group_dialog(),
        profile_card(),
        call_screen(),
        height="100dvh", width="100%", spacing="0", id="app-shell",
        class_name=rx.cond(open_room, "shell room-open", "shell"),
    )
