"""My profile (/profile): the editable fields, the avatar cropper and gallery, my blocks."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import avatar, tr
from corpchat.components.cropper import avatar_cropper
from corpchat.state.profile import AVATAR_UPLOAD_ID, ProfileState


def _label(key: str, control: rx.Component) -> rx.Component:
    return rx.el.label(rx.text(tr(key), size="2", weight="medium"), control,
                       display="flex", flex_direction="column", gap="4px", width="100%")


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _label("profile.real_name", rx.input(name="real_name", default_value=ProfileState.real_name,
                                                 max_length=100, width="100%", id="real-name")),
            _label("profile.bio", rx.text_area(name="bio", default_value=ProfileState.bio, max_length=1000,
                                               rows="3", width="100%", id="bio")),
            _label("profile.gender", rx.select.root(
                rx.select.trigger(width="100%", id="gender"),
                rx.select.content(*[rx.select.item(tr(f"gender.{g}"), value=g)
                                    for g in ("unspecified", "female", "male")]),
                name="gender", default_value=ProfileState.gender)),
            _label("profile.birth", rx.hstack(
                rx.input(name="birth", default_value=ProfileState.birth, placeholder=tr("profile.birth_hint"),
                         max_length=40, flex="1", id="birth"),
                # The calendar picker fills the typed field (ISO in, DD.MM.YYYY out).
                rx.el.input(type="date", aria_label=tr("profile.birth"),
                            on_change=ProfileState.pick_birth, class_name="birth-picker",
                            # Only the calendar button shows: the typed field beside it is the value.
                            style={"width": "38px", "padding": "6px", "border-radius": "6px",
                                   "border": "1px solid var(--gray-a7)", "background": "transparent",
                                   "color": "transparent", "color-scheme": "light dark"}),
                width="100%", align="center")),
            rx.cond(ProfileState.birth_label != "",
                    rx.text(ProfileState.birth_label, size="1", color_scheme="gray", id="birth-label")),
            rx.button(tr("profile.save"), type="submit", id="save-profile"),
            spacing="3", width="100%",
        ),
        on_submit=ProfileState.save_profile, key=ProfileState.form_key, width="100%",
    )


def _gallery_item(item) -> rx.Component:
    return rx.vstack(
        rx.avatar(src=item["url"], fallback="?", size="5", radius="full",
                  outline=rx.cond(item["current"], "3px solid var(--accent-9)", "none")),
        rx.hstack(
            rx.cond(item["current"], rx.text(tr("profile.current"), size="1", color_scheme="gray"),
                    rx.button(tr("profile.make_current"), size="1", variant="soft", class_name="use-avatar",
                              on_click=ProfileState.use_avatar(item["id"]))),
            rx.icon_button(rx.icon("trash-2"), size="1", variant="ghost", color_scheme="red",
                           aria_label=tr("profile.delete"), class_name="delete-avatar",
                           on_click=ProfileState.ask_delete_avatar(item["id"])),
            spacing="1", align="center"),
        align="center", spacing="1", class_name="gallery-item",
    )


def _confirm_delete() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(tr("profile.delete_avatar_title")),
            rx.alert_dialog.description(tr("profile.delete_avatar_text"), size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button(tr("chat.cancel"), variant="soft", color_scheme="gray",
                                                 on_click=ProfileState.cancel_delete_avatar)),
                rx.alert_dialog.action(rx.button(tr("profile.delete"), color_scheme="red", id="confirm-delete-avatar",
                                                 on_click=ProfileState.delete_avatar)),
                justify="end", spacing="3", margin_top="12px"),
            max_width="min(420px, 94vw)"),
        open=ProfileState.deleting != "",
    )


def _blocked_item(item) -> rx.Component:
    return rx.hstack(
        rx.text(item["name"], size="2", weight="medium"), rx.text("@", item["login"], size="1", color_scheme="gray"),
        rx.spacer(),
        rx.button(tr("profile.unblock"), size="1", variant="soft", class_name="unblock",
                  on_click=ProfileState.unblock(item["id"])),
        width="100%", align="center", class_name="blocked-item",
    )


def profile_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.link(rx.icon_button(rx.icon("arrow-left"), variant="ghost"), href="/", id="to-chats"),
                    rx.heading(tr("profile.mine"), size="5"),
                    width="100%", align="center",
                ),
                rx.hstack(avatar(ProfileState.initials, "6", src=ProfileState.avatar, id="my-avatar"),
                          rx.text("@", ProfileState.me_login, color_scheme="gray"), align="center", spacing="4"),
                rx.cond(ProfileState.error != "",
                        rx.callout(ProfileState.error, icon="triangle_alert", color_scheme="red", width="100%",
                                   id="profile-error")),
                rx.cond(ProfileState.notice != "",
                        rx.callout(ProfileState.notice, icon="check", color_scheme="green", width="100%",
                                   id="profile-notice")),
                # Shown once loaded: typed into before, the form re-mounted with the loaded values
                # and the typing was lost.
                rx.cond(ProfileState.form_key > 0, _form()),
                rx.separator(),
                rx.heading(tr("profile.avatar"), size="3"),
                avatar_cropper(AVATAR_UPLOAD_ID, box=ProfileState.crop, saving=ProfileState.saving,
                               on_crop=ProfileState.crop_changed, on_refused=ProfileState.avatar_refused,
                               on_error=ProfileState.avatar_failed, on_save=ProfileState.avatar_saving,
                               on_saved=ProfileState.avatar_posted, choose_label=tr("profile.avatar_choose"),
                               save_label=tr("profile.avatar_save"), height=260),
                _confirm_delete(),
                rx.cond(ProfileState.gallery.length() > 0, rx.vstack(
                    rx.hstack(rx.text(tr("profile.gallery"), size="2", weight="medium"), rx.spacer(),
                              rx.button(tr("profile.no_avatar"), size="1", variant="ghost", id="use-initials",
                                        on_click=ProfileState.use_initials), width="100%"),
                    rx.flex(rx.foreach(ProfileState.gallery, _gallery_item), wrap="wrap", gap="12px",
                            id="gallery"),
                    width="100%")),
                rx.separator(),
                rx.heading(tr("profile.blocked_list"), size="3"),
                rx.cond(ProfileState.blocked.length() > 0,
                        rx.vstack(rx.foreach(ProfileState.blocked, _blocked_item), width="100%", id="blocked-list"),
                        rx.text(tr("profile.no_blocked"), size="2", color_scheme="gray")),
                spacing="4", width="100%",
            ),
            width="min(560px, 96vw)", size="3",
        ),
        min_height="100dvh", padding="12px",
    )
