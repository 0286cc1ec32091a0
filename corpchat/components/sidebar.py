"""The left pane: chats and people."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import avatar, theme_toggle, tr
from corpchat.components.people import person_avatar
from corpchat.state.chat import ChatState


def _chat_entry(chat) -> rx.Component:
    active = ChatState.room_id == chat["room_id"]
    return rx.hstack(
        rx.cond(chat["kind"] == "private", person_avatar(chat["other_id"], chat["initials"]),
                avatar(chat["initials"], src=chat["avatar"], class_name="chat-avatar")),
        rx.vstack(
            rx.hstack(
                rx.text(chat["title"], weight="bold", size="2", class_name="chat-title",
                        overflow="hidden", text_overflow="ellipsis", white_space="nowrap", flex="1"),
                rx.text(chat["time"], size="1", color_scheme="gray"),
                width="100%",
            ),
            rx.hstack(
                rx.text(chat["preview"], size="1", color_scheme="gray", class_name="chat-preview",
                        overflow="hidden", text_overflow="ellipsis", white_space="nowrap", flex="1"),
                rx.cond(chat["unread"] > 0,
                        rx.badge(chat["unread_label"], radius="full", variant="solid", class_name="unread")),
                width="100%",
            ),
            spacing="1", flex="1", min_width="0",
        ),
        on_click=ChatState.open_room(chat["room_id"]),
        padding="8px 10px", width="100%", cursor="pointer", border_radius="8px",
        background=rx.cond(active, "var(--accent-a4)", "transparent"),
        _hover={"background": "var(--gray-a3)"},
        class_name="chat-entry", data_room=chat["room_id"],
    )


def _person_entry(person) -> rx.Component:
    return rx.hstack(
        person_avatar(person["id"], person["initials"]),
        rx.vstack(rx.text(person["name"], weight="bold", size="2"),
                  rx.text("@", person["login"], size="1", color_scheme="gray"), spacing="0", flex="1"),
        rx.icon_button(rx.icon("info"), variant="ghost", size="1", aria_label=tr("profile.open"),
                       class_name="person-profile",
                       on_click=ChatState.open_profile(person["id"]).stop_propagation),
        on_click=ChatState.open_user(person["id"]),
        padding="8px 10px", width="100%", cursor="pointer", border_radius="8px",
        _hover={"background": "var(--gray-a3)"}, class_name="person-entry",
    )


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading(tr("app.name"), size="5"),
            rx.spacer(),
            theme_toggle(),
            rx.icon_button(rx.icon("users"), variant="ghost", aria_label=tr("group.new"), id="new-group",
                           on_click=ChatState.open_new_group),
            rx.link(rx.icon_button(rx.icon("user"), variant="ghost", aria_label=tr("profile.mine")),
                    href="/profile", id="to-profile"),
            rx.link(rx.icon_button(rx.icon("settings"), variant="ghost", aria_label=tr("nav.settings")),
                    href="/settings", id="to-settings"),
            width="100%", align="center", padding="10px 12px 0",
        ),
        rx.segmented_control.root(
            rx.segmented_control.item(tr("nav.chats"), value="chats", id="chats-tab"),
            rx.segmented_control.item(tr("nav.users"), value="people", id="people-tab"),
            value=ChatState.sidebar_tab, on_change=ChatState.show_tab, width="calc(100% - 24px)",
            margin="0 12px", id="sidebar-tabs",
        ),
        rx.cond(
            ChatState.sidebar_tab == "people",
            rx.vstack(
                rx.debounce_input(
                    rx.input(placeholder=tr("nav.search"), value=ChatState.people_query, max_length=100,
                             on_change=ChatState.search_people, width="100%", id="people-search"),
                    debounce_timeout=250,
                ),
                rx.cond(ChatState.people.length() == 0,
                        rx.text(tr("nav.nobody_found"), size="2", color_scheme="gray", padding="12px",
                                id="nobody-found")),
                rx.foreach(ChatState.people, _person_entry),
                width="100%", padding="0 8px", overflow_y="auto", flex="1", spacing="1",
            ),
            rx.vstack(
                rx.cond((ChatState.chats.length() == 0) & (ChatState.chats_top.length() == 0),
                        rx.text(tr("nav.no_chats"), size="2", color_scheme="gray", padding="12px")),
                rx.foreach(ChatState.chats_top, _chat_entry),
                rx.foreach(ChatState.chats,
                           lambda c: rx.cond(~ChatState.top_ids.contains(c["room_id"]), _chat_entry(c))),
                width="100%", padding="0 8px", overflow_y="auto", flex="1", spacing="1", id="chat-list",
            ),
        ),
        height="100%", width="100%", spacing="3",
    )
