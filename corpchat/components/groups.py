"""Groups: the "new group" dialog of the chat page, and an open group's settings page
(/group/<id>: photo, rename, members and the actions my role allows, add, leave, delete; the
audit log for the owner and admins, refused to a member)."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import avatar, tr
from corpchat.components.cropper import avatar_cropper, post_when_shown
from corpchat.components.people import person_avatar
from corpchat.models.tables import GROUP_ACTIONS
from corpchat.state.chat import ChatState
from corpchat.state.chat.group_panel import PHOTO_UPLOAD_ID
from corpchat.state.chat.groups import NEW_PHOTO_UPLOAD_ID

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


def _new_photo() -> rx.Component:
    """Optional: the settings page's cropper, without its Save (the group does not exist yet)."""
    return rx.vstack(
        rx.text(tr("group.photo_optional"), size="2", weight="medium"),
        avatar_cropper(NEW_PHOTO_UPLOAD_ID, box=ChatState.photo_crop, on_crop=ChatState.photo_crop_changed,
                       on_refused=ChatState.photo_refused, on_error=ChatState.photo_failed,
                       choose_label=tr("group.photo_choose"), preview_size=64, height=180),
        width="100%", spacing="1", id="new-group-photo",
    )


def new_group_dialog() -> rx.Component:
    # The post lives outside the dialog: it runs after the dialog has closed on the create.
    poster = rx.cond(ChatState.new_photo_room > 0, post_when_shown(
        "/api/group-avatar/" + ChatState.new_photo_room.to(str), NEW_PHOTO_UPLOAD_ID, ChatState.photo_crop,
        on_saved=ChatState.new_photo_posted))
    return rx.fragment(_new_group_dialog(), poster)


def _new_group_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(tr("group.new")),
            rx.form(
                rx.vstack(
                    rx.input(name="name", placeholder=tr("group.name"), max_length=100, width="100%",
                             id="new-group-name", required=True),
                    _new_photo(),
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
                                              on_click=ChatState.ask_remove_member(m["id"]))),
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


def _photo() -> rx.Component:
    """The owner's and admins' photo controls: the profile's cropper, posted for this group."""
    return rx.vstack(
        rx.hstack(rx.text(tr("group.photo"), size="2", weight="medium"), rx.spacer(),
                  rx.cond(ChatState.room_avatar != "", rx.button(
                      tr("group.photo_remove"), size="1", variant="ghost", color_scheme="red", id="group-photo-remove",
                      on_click=ChatState.remove_photo)), width="100%", align="center"),
        avatar_cropper(PHOTO_UPLOAD_ID, box=ChatState.photo_crop, saving=ChatState.photo_saving,
                       on_crop=ChatState.photo_crop_changed, on_refused=ChatState.photo_refused,
                       on_error=ChatState.photo_failed, on_save=ChatState.photo_saving_started,
                       on_saved=ChatState.photo_posted, choose_label=tr("group.photo_choose"),
                       save_label=tr("group.photo_save"), upload_url="/api/group-avatar/" + ChatState.room_id.to(str),
                       preview_size=64, height=200),
        width="100%", spacing="1", id="group-photo",
    )


def _members_tab() -> rx.Component:
    return rx.vstack(
        rx.cond(ChatState.can_photo, _photo()),
        rx.cond(ChatState.can_rename, rx.form(
            rx.hstack(rx.input(name="name", default_value=ChatState.room_title, key=ChatState.room_title,
                               max_length=100, flex="1", id="group-name"),
                      rx.button(tr("group.rename"), type="submit", variant="soft", id="group-rename")),
            on_submit=ChatState.rename_form, width="100%")),
        rx.debounce_input(rx.input(placeholder=tr("nav.search"), value=ChatState.member_query,
                                   on_change=ChatState.search_members, width="100%"), debounce_timeout=250),
        rx.vstack(rx.foreach(ChatState.members, _member_row), width="100%", spacing="0",
                  max_height="50vh", overflow_y="auto", id="group-members"),
        rx.cond(ChatState.members_more | (ChatState.members_from > 0), rx.hstack(
            rx.icon_button(rx.icon("chevron-left"), variant="soft", size="1", disabled=ChatState.members_from == 0,
                           aria_label=tr("group.members_prev"), on_click=ChatState.members_page(False)),
            rx.icon_button(rx.icon("chevron-right"), variant="soft", size="1", disabled=~ChatState.members_more,
                           aria_label=tr("group.members_next"), on_click=ChatState.members_page(True),
                           id="members-next"),
            justify="center", width="100%")),
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
        rx.select.root(
            rx.select.trigger(width="100%", id="log-person"),
            rx.select.content(rx.select.item(tr("group.log_anyone"), value="all"),
                              rx.foreach(ChatState.log_people, lambda p: rx.select.item(p["name"], value=p["id"]))),
            value=rx.cond(ChatState.log_person == "", "all", ChatState.log_person),
            on_change=ChatState.filter_log_person,
        ),
        rx.cond(ChatState.log.length() == 0, rx.text(tr("group.log_empty"), size="2", color_scheme="gray")),
        rx.vstack(rx.foreach(ChatState.log, _log_row), width="100%", spacing="0", max_height="50vh",
                  overflow_y="auto", id="group-log"),
        rx.cond(ChatState.log_more, rx.button(tr("group.log_more"), variant="ghost", on_click=ChatState.more_log)),
        spacing="3", width="100%",
    )


def _add_people() -> rx.Component:
    """The owner's and admins' "add people": the same picking as a new group's."""
    return rx.vstack(
        rx.debounce_input(rx.input(placeholder=tr("group.search"), on_change=ChatState.search_picks,
                                   width="100%", class_name="add-people-search"), debounce_timeout=250),
        rx.vstack(rx.foreach(ChatState.picks, _pick_row), width="100%", spacing="0", max_height="30vh",
                  overflow_y="auto"),
        rx.cond(ChatState.picked.length() > 0, rx.hstack(
            rx.hstack(rx.foreach(ChatState.picked, _picked_chip), wrap="wrap", spacing="1", flex="1"),
            rx.button(tr("group.add"), id="add-picked", on_click=ChatState.add_picked), width="100%",
            align="center")),
        width="100%", spacing="2",
    )


def _refused() -> rx.Component:
    return rx.center(rx.card(rx.vstack(
        rx.heading(tr("group.not_available"), size="4"),
        rx.text(tr("group.not_available_text"), size="2", color_scheme="gray"),
        rx.link(rx.button(tr("group.back_to_chats")), href="/"),
        spacing="3", align="center"), id="group-refused", max_width="min(420px, 94vw)"),
        min_height="100dvh", padding="12px")


def group_settings() -> rx.Component:
    """The settings page of the open group (pages/group.py); the log tab refuses a member."""
    head = rx.hstack(
        rx.link(rx.icon_button(rx.icon("arrow-left"), variant="ghost", aria_label=tr("chat.back")),
                href="/", id="group-back"),
        avatar(ChatState.room_initials, "4", src=ChatState.room_avatar, id="group-avatar"),
        rx.vstack(rx.heading(ChatState.room_title, size="4", id="group-title"),
                  rx.text(ChatState.room_members_label, size="1", color_scheme="gray"), spacing="0",
                  min_width="0"),
        align="center", width="100%", spacing="3",
    )
    tabs = rx.segmented_control.root(
        rx.segmented_control.item(tr("group.members_tab"), value="members"),
        rx.segmented_control.item(tr("group.log_tab"), value="log", id="log-tab"),
        value=ChatState.panel_tab, on_change=ChatState.show_panel_tab, width="100%")
    log = rx.cond(ChatState.can_read_log, _log_tab(),
                  rx.callout(tr("group.log_refused"), icon="lock", color_scheme="gray", id="log-refused"))
    return rx.cond(
        ChatState.panel_open & (ChatState.room_id > 0),
        rx.flex(rx.card(rx.vstack(
            head, tabs,
            rx.cond(ChatState.panel_tab == "log", log, rx.vstack(
                _members_tab(), rx.cond(ChatState.can_add, _add_people()), width="100%", spacing="3")),
            spacing="4", width="100%"), width="min(640px, 100vw)", size="3", id="group-page"),
            # top-aligned: the list grows and shrinks as people are searched, added, removed
            justify="center", align="start", min_height="100dvh", padding=["0", "24px 12px"]),
        rx.cond(ChatState.group_refused | (ChatState.room_id == 0), _refused(),
                rx.center(rx.spinner(size="3"), min_height="100dvh")),
    )
