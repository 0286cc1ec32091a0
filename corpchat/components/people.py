"""Other people on the chat page: avatar with presence, the profile card, the block banner."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import avatar, tr
from corpchat.state.chat import ChatState


def _key(user_id) -> rx.Var:
    return user_id.to_string()


def person_avatar(user_id, initials, size: str = "3") -> rx.Component:
    """The user's avatar as this tab may see it, with a dot while they are online."""
    return rx.box(
        avatar(initials, size, src=ChatState.avatars[_key(user_id)]),
        rx.cond(ChatState.online_ids.contains(user_id),
                rx.box(class_name="online-dot", position="absolute", right="0", bottom="0", width="10px",
                       height="10px", border_radius="50%", background="var(--green-9)",
                       border="2px solid var(--color-background)")),
        position="relative", flex_shrink="0",
    )


def status_line(user_id) -> rx.Component:
    key = _key(user_id)
    return rx.cond(ChatState.presence.contains(key),
                   rx.text(ChatState.presence[key], size="1", color_scheme="gray", class_name="presence"))


def block_banner() -> rx.Component:
    """Instead of the composer in a private chat with a block either way."""
    other = ChatState.room_other_id
    return rx.cond(
        ChatState.my_blocks.contains(other),
        rx.hstack(rx.text(tr("profile.blocked_banner"), size="2", flex="1"),
                  rx.button(tr("profile.unblock"), size="2", variant="soft",
                            on_click=ChatState.unblock_user(other), id="banner-unblock"),
                  width="100%", padding="10px 12px", align="center", border_top="1px solid var(--gray-a5)",
                  id="block-banner"),
        rx.box(rx.text(tr("profile.blocked_notice"), size="2", color_scheme="gray"),
               width="100%", padding="10px 12px", border_top="1px solid var(--gray-a5)", id="blocked-notice"),
    )


def room_blocked() -> rx.Var:
    return (ChatState.room_other_id > 0) & ChatState.blocked_ids.contains(ChatState.room_other_id)


def block_menu_item(user_id) -> rx.Component:
    return rx.cond(
        ChatState.my_blocks.contains(user_id),
        rx.menu.item(tr("profile.unblock"), on_click=ChatState.unblock_user(user_id), id="menu-unblock"),
        rx.menu.item(tr("profile.block"), color="red", on_click=ChatState.block_user(user_id), id="menu-block"),
    )


def _row(label_key: str, value, value_id: str | None = None) -> rx.Component:
    """A label and its value: two cells of the card's grid, so the values line up."""
    return rx.cond(value != "", rx.fragment(
        rx.text(tr(label_key), size="2", color_scheme="gray"),
        rx.text(value, size="2", white_space="pre-wrap", word_break="break-word", id=value_id)))


def profile_card() -> rx.Component:
    c = ChatState.card
    return rx.dialog.root(
        rx.dialog.content(
            rx.vstack(
                rx.hstack(
                    avatar(c["initials"], "6", src=c["avatar"]),
                    rx.vstack(
                        rx.dialog.title(c["name"], margin="0", id="card-name"),
                        rx.text("@", c["login"], size="2", color_scheme="gray"),
                        rx.text(c["status"], size="2", color_scheme="gray", id="card-status"),
                        spacing="1", min_width="0",
                    ),
                    align="center", spacing="4", width="100%",
                ),
                rx.cond(c["hidden"], rx.text(tr("profile.hidden"), size="2", color_scheme="gray", id="card-hidden")),
                rx.grid(
                    _row("profile.bio", c["bio"], "card-bio"),
                    _row("profile.birth", c["birth"]),
                    _row("profile.age_label", c["age"], "card-age"),
                    _row("profile.gender", c["gender"]),
                    columns="max-content 1fr", column_gap="16px", row_gap="8px", width="100%", id="card-rows",
                ),
                rx.hstack(
                    rx.cond(~c["is_self"], rx.cond(
                        c["blocked_by_me"],
                        rx.button(tr("profile.unblock"), variant="soft", id="card-unblock",
                                  on_click=ChatState.unblock_user(c["user_id"])),
                        rx.button(tr("profile.block"), variant="soft", color_scheme="red", id="card-block",
                                  on_click=ChatState.block_user(c["user_id"])))),
                    rx.cond(c["is_self"], rx.link(rx.button(tr("profile.mine"), variant="soft"), href="/profile")),
                    rx.spacer(),
                    rx.dialog.close(rx.button(tr("profile.close"), variant="ghost", id="card-close")),
                    width="100%", wrap="wrap",
                ),
                spacing="3", width="100%", id="profile-card",
            ),
            max_width="min(440px, 94vw)",
        ),
        open=ChatState.card_open,
        on_open_change=ChatState.card_toggled,
    )
