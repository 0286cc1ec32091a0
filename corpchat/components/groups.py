"""Groups on the chat page: the "new group" dialog and an open group's panel (members and the
actions my role allows, rename, add, leave, delete; the audit log for owner and admins)."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import avatar, tr
from corpchat.components.people import person_avatar
from corpchat.models.tables import GROUP_ACTIONS
from corpchat.state.chat import ChatState

_WIDTH = "min(520px, 94vw)"


def _picked_chip(p) -> rx.Component:
    return rx.badge(p["name"], rx.icon("x", size=12), variant="soft", radius="full", cursor="pointer",
                    on_click=ChatState.toggle_pick(p["id"]), class_name="picked")


def _pick_row(p) -> rx.Component:
    chosen = ChatState.picked_ids.contains(p["id"])
    return rx.hstack(
        person_avatar(p["id"], p["initials"]),
        rx.text(p["name"], size="2", flex="1"),
        rx.checkbox(checked=chosen, pointer_events="none"),  # the row is what is clicked
        width="100%", align="center", padding="4px 6px", cursor="pointer", class_name="pick",
        on_click=ChatState.toggle_pick(p["id"]),
    )


def new_group_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(tr("group.new")),
            rx.form(
                rx.vstack(
                    rx.input(name="name", placeholder=tr("group.name"), max_length=100, width="100%",
                             id="new-group-name", required=True),
                    rx.hstack(rx.foreach(ChatState.picked, _picked_chip), wrap="wrap", spacing="1"),
                    rx.cond(ChatState.picked.length() == 0,
                            rx.text(tr("group.picked_none"), size="1", color_scheme="gray")),
                    rx.debounce_input(rx.input(placeholder=tr("group.search"), on_change=ChatState.search_picks,
                                               width="100%", class_name="new-group-search"), debounce_timeout=250),
                    rx.vstack(rx.foreach(ChatState.picks, _pick_row), width="100%", spacing="0",
                              max_height="40vh", overflow_y="auto"),
                    rx.hstack(
                        rx.button(tr("chat.cancel"), type="button", variant="soft", color_scheme="gray",
                                  on_click=ChatState.close_new_group),
                        rx.button(tr("group.create"), type="submit", id="new-group-create",
                                  disabled=ChatState.picked.length() == 0),
                        justify="end", width="100%",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=ChatState.create_group_form, reset_on_submit=True,
            ),
            max_width=_WIDTH, id="new-group-dialog",
        ),
        open=ChatState.new_group_open,
        on_open_change=lambda open_: rx.cond(open_, rx.noop(), ChatState.close_new_group),
    )


def _member_row(m) -> rx.Component:
    room = ChatState.room_id
    items = [
        rx.cond(m["can_promote"], rx.menu.item(tr("group.make_admin"), class_name="make-admin",
                                               on_click=ChatState.change_role(room, m["id"], "admin"))),
        rx.cond(m["can_demote"], rx.menu.item(tr("group.make_member"), class_name="make-member",
                                              on_click=ChatState.change_role(room, m["id"], "member"))),
        rx.cond(m["can_transfer"], rx.menu.item(tr("group.make_owner"), class_name="make-owner",
                                                on_click=ChatState.transfer_ownership(room, m["id"]))),
        rx.cond(m["can_remove"], rx.menu.item(tr("group.remove"), color="red", class_name="remove-member",
                                              on_click=ChatState.remove_member(room, m["id"]))),
    ]
    any_action = m["can_promote"] | m["can_demote"] | m["can_transfer"] | m["can_remove"]
    return rx.hstack(
        person_avatar(m["id"], m["initials"]),
        rx.vstack(rx.text(m["name"], size="2", weight="bold"), rx.text("@", m["login"], size="1", color_scheme="gray"),
                  spacing="0", flex="1", min_width="0"),
        rx.cond(m["role"] != "member", rx.badge(m["role_label"], variant="soft", class_name="role-badge")),
        rx.cond(any_action, rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("ellipsis-vertical"), variant="ghost", size="1",
                                           class_name="member-menu")),
            rx.menu.content(*items),
        )),
        width="100%", align="center", padding="4px 2px", class_name="member", data_user=m["id"],
    )


def _log_row(e) -> rx.Component:
    return rx.hstack(rx.text(e["text"], size="2", flex="1"), rx.text(e["time"], size="1", color_scheme="gray"),
                     width="100%", padding="4px 2px", class_name="log-entry")


def _members_tab() -> rx.Component:
    return rx.vstack(
        rx.cond(ChatState.can_rename, rx.form(
            rx.hstack(rx.input(name="name", default_value=ChatState.room_title, key=ChatState.room_title,
                               max_length=100, flex="1", id="group-name"),
                      rx.button(tr("group.rename"), type="submit", variant="soft", id="group-rename")),
            on_submit=ChatState.rename_form, width="100%")),
        rx.debounce_input(rx.input(placeholder=tr("nav.search"), value=ChatState.member_query,
                                   on_change=ChatState.search_members, width="100%"), debounce_timeout=250),
        rx.vstack(rx.foreach(ChatState.members, _member_row), width="100%", spacing="0",
                  max_height="45vh", overflow_y="auto", id="group-members"),
        rx.hstack(
            rx.button(tr("group.leave"), variant="soft", color_scheme="gray", id="group-leave",
                      on_click=ChatState.leave_group(ChatState.room_id)),
            rx.cond(ChatState.can_delete, rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button(tr("group.delete"), color_scheme="red", variant="soft",
                                                  id="group-delete")),
                rx.alert_dialog.content(
                    rx.alert_dialog.title(tr("group.delete")),
                    rx.alert_dialog.description(ChatState.room_title),
                    rx.hstack(rx.alert_dialog.cancel(rx.button(tr("chat.cancel"), variant="soft", color_scheme="gray")),
                              rx.alert_dialog.action(rx.button(tr("chat.delete"), color_scheme="red",
                                                               id="group-delete-ok",
                                                               on_click=ChatState.delete_group(ChatState.room_id))),
                              justify="end", spacing="3", margin_top="12px"),
                    max_width="min(420px, 92vw)"),
            )),
            justify="between", width="100%",
        ),
        spacing="3", width="100%",
    )


def _log_tab() -> rx.Component:
    return rx.vstack(
        rx.select.root(
            rx.select.trigger(width="100%", id="log-filter"),
            rx.select.content(rx.select.item(tr("group.log_all"), value="all"),
                              *[rx.select.item(tr(f"group.action_{a}"), value=a) for a in GROUP_ACTIONS]),
            value=rx.cond(ChatState.log_action == "", "all", ChatState.log_action),
            on_change=ChatState.filter_log,
        ),
        rx.cond(ChatState.log.length() == 0, rx.text(tr("group.log_empty"), size="2", color_scheme="gray")),
        rx.vstack(rx.foreach(ChatState.log, _log_row), width="100%", spacing="0", max_height="50vh",
                  overflow_y="auto", id="group-log"),
        rx.cond(ChatState.log_more, rx.button(tr("group.log_more"), variant="ghost", on_click=ChatState.more_log)),
        spacing="3", width="100%",
    )


def group_panel() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.hstack(avatar(ChatState.room_initials, "3"),
                      rx.vstack(rx.dialog.title(ChatState.room_title, margin="0"),
                                rx.text(ChatState.room_members_label, size="1", color_scheme="gray"), spacing="0"),
                      rx.spacer(),
                      rx.dialog.close(rx.icon_button(rx.icon("x"), variant="ghost", aria_label=tr("group.close"),
                                                     on_click=ChatState.close_panel)),
                      align="center", width="100%", margin_bottom="8px"),
            rx.cond(ChatState.can_read_log, rx.segmented_control.root(
                rx.segmented_control.item(tr("group.members_tab"), value="members"),
                rx.segmented_control.item(tr("group.log_tab"), value="log", id="log-tab"),
                value=ChatState.panel_tab, on_change=ChatState.show_panel_tab, width="100%", margin_bottom="8px")),
            rx.cond(ChatState.panel_tab == "log", _log_tab(), _members_tab()),
            max_width=_WIDTH, id="group-panel",
        ),
        open=ChatState.panel_open,
        on_open_change=lambda open_: rx.cond(open_, rx.noop(), ChatState.close_panel),
    )
