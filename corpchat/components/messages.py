"""The open chat: header, message window, bubbles, reactions."""

from __future__ import annotations

import reflex as rx

from corpchat.components.attachments import DROP_TARGET, attach_panel, drop_zone, file_view
from corpchat.components.calls import call_buttons
from corpchat.components.common import avatar, tr
from corpchat.components.composer import composer, edit_box
from corpchat.components.emoji_picker import emoji_picker
from corpchat.components.group_calls import call_banner
from corpchat.components.in_view import in_view
from corpchat.components.people import block_banner, block_menu_item, person_avatar, room_blocked, status_line
from corpchat.realtime.ring import CHUNKS, chunk_var
from corpchat.state.chat import ChatState

DIVIDER_ID = "new-divider"
QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🔥", "🎉"]


def _mine(m):
    """Bubbles are shared by all viewers; whose they are is decided here, per tab."""
    return m["sender_id"] == ChatState.my_id


def header() -> rx.Component:
    private, other = ChatState.room_other_id > 0, ChatState.room_other_id
    return rx.hstack(
        rx.icon_button(rx.icon("arrow-left"), variant="ghost", on_click=ChatState.close_room,
                       class_name="back-button", aria_label=tr("chat.back")),
        rx.cond(private, person_avatar(other, ChatState.room_initials, "2"),
                avatar(ChatState.room_initials, "2", src=ChatState.room_avatar, id="room-avatar")),
        rx.vstack(
            rx.text(ChatState.room_title, weight="bold", id="room-title"),
            rx.cond(private, status_line(other)),
            rx.cond(ChatState.room_members > 0, rx.hstack(
                rx.text(ChatState.room_members_label, size="1", color_scheme="gray", id="room-members"),
                rx.cond(ChatState.room_online > 0,
                        rx.text("· " + ChatState.room_online_label, size="1", color_scheme="gray", id="room-online")),
                spacing="1")),
            spacing="0", flex="1", min_width="0", cursor=rx.cond(private, "pointer", "default"),
            on_click=rx.cond(private, ChatState.open_profile(other), rx.noop()), id="room-head",
        ),
        call_buttons(),
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("ellipsis-vertical"), variant="ghost", id="room-menu")),
            rx.menu.content(
                rx.cond(private, rx.menu.item(tr("profile.open"), on_click=ChatState.open_profile(other),
                                              id="menu-profile")),
                rx.cond(private, block_menu_item(other)),
                rx.cond(ChatState.room_kind == "group",
                        rx.menu.item(tr("group.settings"), id="menu-group",
                                     on_click=rx.redirect("/group/" + ChatState.room_id.to(str)))),
                rx.menu.item(tr("chat.delete_chat"), color="red", on_click=ChatState.ask_delete_chat,
                             id="delete-chat")),
        ),
        width="100%", padding="8px 12px", align="center", border_bottom="1px solid var(--gray-a5)",
    )


def _segment(seg) -> rx.Component:
    return rx.cond(
        seg["kind"] == "link",
        rx.link(seg["text"], href=seg["href"], is_external=True, rel="noopener noreferrer"),
        rx.text.span(seg["text"]),
    )


def _reaction_chip(m, r) -> rx.Component:
    mine = r["user_ids"].contains(ChatState.my_id)
    # My chip is the high-contrast solid one (accent-12 with accent-1 text, both themes): the
    # plain solid one put white on accent-9 (3:1) and its soft avatars' blue initials on blue.
    look = {"variant": rx.cond(mine, "solid", "soft"), "high_contrast": mine}
    chip = rx.button(
        rx.text.span(r["emoji"]),
        rx.text.span(r["count"], class_name="reaction-count"),
        rx.hstack(rx.foreach(r["faces"],
                             lambda f: rx.avatar(src=ChatState.avatars[f["id"].to_string()], fallback=f["initials"],
                                                 size="1", radius="full", **look, class_name="reactor-face",
                                                 box_shadow=rx.cond(mine, "0 0 0 1px var(--accent-1)", "none"))),
                  rx.cond(r["more"] > 0, rx.text.span("+", r["more"], class_name="reaction-more")),
                  spacing="0", align="center"),
        size="1", radius="full", **look,
        on_click=ChatState.react(m["id"], r["emoji"]), title=r["title"],
        class_name=rx.cond(mine, "reaction mine", "reaction"),
    )
    # Who reacted: each name opens that person's profile card (the chip itself toggles mine).
    return rx.hover_card.root(
        rx.hover_card.trigger(chip),
        rx.hover_card.content(
            rx.vstack(rx.foreach(r["people"], lambda p: rx.link(
                p["name"], on_click=ChatState.open_profile(p["id"]), class_name="reactor", size="2")),
                spacing="1"),
            size="1"),
        open_delay=300,
    )


def _reaction_menu(m) -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(rx.button("➕", size="1", variant="ghost", class_name="react-button",
                                     aria_label=tr("chat.react"))),
        rx.popover.content(
            rx.vstack(
                rx.hstack(*[
                    rx.popover.close(rx.button(e, variant="ghost", size="2", class_name="quick-reaction",
                                               on_click=ChatState.react(m["id"], e)))
                    for e in QUICK_REACTIONS
                ], spacing="1", wrap="wrap"),
                emoji_picker(on_select=lambda e: ChatState.react(m["id"], e)),
            ),
            padding="6px",
        ),
    )


def _actions(m) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(rx.icon_button(rx.icon("ellipsis"), size="1", variant="ghost", class_name="msg-menu")),
        rx.menu.content(
            rx.cond(_mine(m) & (m["kind"] != "system"),  # a text, or a file's caption
                    rx.menu.item(tr("chat.edit"), on_click=ChatState.start_edit(m["id"]), class_name="do-edit")),
            rx.menu.item(tr("chat.delete_for_me"), on_click=ChatState.delete_for_me(m["id"]),
                         class_name="do-delete-me"),
            rx.cond(_mine(m) | ChatState.can_delete_others,
                    rx.menu.item(tr("chat.delete_for_all"), color="red",
                                 on_click=ChatState.ask_delete_for_all(m["id"]), class_name="do-delete-all")),
        ),
    )


def _status(m) -> rx.Component:
    return rx.match(
        m["status"],
        ("sending", rx.text(tr("chat.sending"), size="1", color_scheme="gray", class_name="msg-sending")),
        ("failed", rx.hstack(
            rx.text(tr("err.send_failed"), size="1", color="red"),
            rx.button(tr("chat.retry"), size="1", variant="soft", on_click=ChatState.retry(m["client_id"]),
                      class_name="msg-retry"),
            align="center")),
        rx.fragment(),
    )


def _text(m) -> rx.Component:
    return rx.text(rx.foreach(m["segments"], _segment), size="2",
                   white_space="pre-wrap", word_break="break-word", class_name="msg-text")


def _sender(m):
    """The sender's (name, initials) on a group bubble: as sent, unless renamed since."""
    key = m["sender_id"].to_string()
    renamed = ChatState.renamed.contains(key)
    return (rx.cond(renamed, ChatState.renamed[key][0], m["sender_name"]),
            rx.cond(renamed, ChatState.renamed[key][1], m["initials"]))


def bubble(m) -> rx.Component:
    is_group = ChatState.room_kind == "group"
    mine = _mine(m)
    name, initials = _sender(m)
    body = rx.vstack(
        rx.cond(is_group & ~mine, rx.text(name, size="1", weight="bold", color_scheme="blue",
                                          cursor="pointer", class_name="sender-name",
                                          on_click=ChatState.open_profile(m["sender_id"]))),
        rx.cond(m["kind"] != "text", file_view(m)),
        rx.cond(ChatState.editing_id == m["id"], edit_box(m), rx.cond(m["text"] != "", _text(m))),
        rx.hstack(
            rx.cond(m["edited"], rx.text(tr("chat.edited"), size="1", color_scheme="gray", class_name="edited")),
            rx.text(m["time"], size="1", color_scheme="gray"),
            spacing="1", justify="end", width="100%",
        ),
        rx.cond(m["reactions"].length() > 0,
                rx.hstack(rx.foreach(m["reactions"], lambda r: _reaction_chip(m, r)),
                          spacing="1", wrap="wrap")),
        spacing="1", padding="6px 10px", border_radius="12px", max_width="min(560px, 80%)",
        # a round video is its own frame, as in Telegram
        background=rx.cond(m["kind"] == "video", "transparent",
                           rx.cond(mine, "var(--accent-a4)", "var(--gray-a3)")),
    )
    return rx.hstack(
        rx.cond(is_group & ~mine, person_avatar(m["sender_id"], initials, "2")),
        body,
        rx.hstack(_reaction_menu(m), _actions(m), spacing="0", class_name="msg-actions"),
        direction=rx.cond(mine, "row-reverse", "row"),
        width="100%", align="end", spacing="2",
        class_name="message", data_id=m["id"], data_seq=m["seq"],
    )


def pending_bubble(m) -> rx.Component:
    """One of my messages not stored yet: "sending…", or "not sent" with Retry."""
    return rx.hstack(
        rx.vstack(_text(m), rx.hstack(_status(m), justify="end", width="100%"),
                  spacing="1", padding="6px 10px", border_radius="12px", max_width="min(560px, 80%)",
                  background="var(--accent-a3)"),
        direction="row-reverse", width="100%", align="end", spacing="2",
        class_name="message pending", data_id=0,
    )


def message_row(m, show_day, new_divider=False) -> rx.Component:
    return rx.fragment(
        rx.cond(show_day, rx.center(rx.badge(m["day_label"], variant="soft", radius="full"),
                                    width="100%", class_name="day-separator")),
        rx.cond(new_divider, rx.hstack(
            rx.separator(flex="1"), rx.text(tr("chat.new_messages"), size="1", color="var(--accent-11)"),
            rx.separator(flex="1"), align="center", width="100%", class_name="new-divider", id=DIVIDER_ID,
            data_room=ChatState.room_id, scroll_margin_top="36px")),  # a glimpse of what was read
        rx.cond(m["kind"] == "system", system_line(m), bubble(m)),
    )


def system_line(m) -> rx.Component:
    """A system message (services/system_messages.py): a line in the middle, in the reader's
    language, no sender, no actions."""
    return rx.center(
        rx.text(m["text"], size="1", color_scheme="gray", text_align="center"),
        rx.text(m["time"], size="1", color_scheme="gray", margin_left="6px"),
        width="100%", padding="2px 12px", class_name="message system-message",
        data_id=m["id"], data_seq=m["seq"],
    )


def _settled_row(m) -> rx.Component:
    return message_row(m, ChatState.day_seqs.contains(m["seq"]), m["seq"] == ChatState.divider_seq)


def _live_chunk(i: int) -> rx.Component:
    return rx.foreach(
        getattr(ChatState, chunk_var(i)),
        lambda m: rx.cond((m["seq"] > ChatState.settled_seq) & ~ChatState.hidden_ids.contains(m["id"]),
                          message_row(m, m["show_day"])),
    )


def live_messages() -> rx.Component:
    """The room's newest messages as broadcast to every viewer (see realtime.live), in seq order."""
    return rx.cond(
        (ChatState.live_room == ChatState.room_id) & ~ChatState.has_newer,
        rx.foreach(ChatState.live_order,
                   lambda k: rx.match(k, *[(i, _live_chunk(i)) for i in range(CHUNKS)], rx.fragment())),
    )


def _to_divider() -> rx.Component:
    """A chat with unread messages opens at the first of them, as Telegram does. The divider's own
    on_mount cannot do it (a mount hook in a message loop runs once, for the whole list); this one
    mounts in the same render as the divider, and again for each chat and divider (the key)."""
    return rx.el.div(
        rx.cond(ChatState.divider_seq > 0, rx.fragment(on_mount=rx.scroll_to(DIVIDER_ID))),
        key=ChatState.room_id.to_string() + ":" + ChatState.divider_seq.to_string(), display="none",
    )


def room_pane() -> rx.Component:
    return drop_zone(rx.vstack(
        header(),
        call_banner(),
        _to_divider(),
        # column-reverse keeps the view pinned to the newest message as the list grows
        rx.box(
            rx.vstack(
                rx.cond(ChatState.has_older,
                        in_view(rx.center(rx.button(tr("chat.load_older"), variant="soft", size="1",
                                                    on_click=ChatState.load_older, id="load-older"),
                                          width="100%"),
                                on_change=ChatState.top_in_view, root_margin="200px 0px 0px 0px",
                                # a new observer per page, so it fires again if still in view
                                key=ChatState.oldest_seq)),
                rx.foreach(ChatState.messages, _settled_row),
                rx.foreach(ChatState.messages_tail, _settled_row),
                live_messages(),
                rx.foreach(ChatState.pending, pending_bubble),
                rx.cond(ChatState.has_newer,
                        rx.center(rx.button("↓", on_click=ChatState.jump_to_latest, id="jump-latest"),
                                  width="100%")),
                spacing="2", width="100%", padding="12px", id="messages",
            ),
            display="flex", flex_direction="column-reverse", overflow_y="auto", flex="1", width="100%",
        ),
        rx.cond(room_blocked(), block_banner(), rx.fragment(attach_panel(), composer())),
        height="100%", width="100%", spacing="0", id=DROP_TARGET,
    ), height="100%", width="100%")


def empty_pane() -> rx.Component:
    return rx.center(rx.text(tr("chat.pick"), color_scheme="gray"), height="100%", width="100%")
