"""A group's call on the page (issue 23): the banner with Join in the group's chat while a call runs
there, and the call screen's grid, a tile per participant (their picture, or their avatar while
their camera is off or no picture comes; their name; a muted microphone). The bridge attaches each
remote stream to the tile's <video>, whose id is made from the participant's peer id."""

from __future__ import annotations

import reflex as rx

from corpchat.components.common import avatar, tr
from corpchat.state.chat import ChatState

REMOTE_PREFIX = "call-remote-"  # + the peer id: call_bridge.jsx finds a group's remote <video> so


def call_banner() -> rx.Component:
    """Under the group's header, for members not in the call (those in it see the call screen, and
    their other tabs nothing: joining there would take them out of their own call)."""
    shown = (ChatState.room_call_count > 0) & (ChatState.call_phase == "") & ~ChatState.room_call_mine
    return rx.cond(shown, rx.hstack(
        rx.icon(rx.cond(ChatState.room_call_kind == "video", "video", "phone"), size=18),
        rx.text(ChatState.room_call_label, size="2", flex="1", min_width="0", id="room-call-label"),
        rx.button(tr("call.join"), size="2", color_scheme="green", on_click=ChatState.join_room_call,
                  id="room-call-join"),
        width="100%", padding="8px 12px", align="center", background="var(--green-a3)",
        border_bottom="1px solid var(--gray-a5)", id="room-call-banner",
    ))


def _tile(t) -> rx.Component:
    picture = (ChatState.call_kind == "video") & t["camera"].to(bool) & t["frames"].to(bool)
    return rx.box(
        rx.el.video(id=REMOTE_PREFIX + t["peer_id"].to(str), auto_play=True, plays_inline=True,
                    display=rx.cond(picture, "block", "none")),
        rx.cond(~picture, avatar(t["initials"], "6", src=t["avatar"].to(str), class_name="tile-avatar")),
        rx.hstack(
            rx.cond(~t["mic"].to(bool), rx.icon("mic-off", size=14, class_name="tile-muted")),
            rx.text(t["name"], size="2", truncate=True),
            spacing="1", align="center", class_name="tile-name"),
        class_name="call-tile", data_peer=t["peer_id"], data_picture=rx.cond(picture, "on", "off"),
    )


def group_stage(local_video: rx.Component, placeholder: rx.Component) -> rx.Component:
    """My own picture first, then the others; the placeholder (the group, "calling…") until someone
    answers."""
    mine_shown = (ChatState.call_kind == "video") & (ChatState.call_camera | ChatState.call_screen)
    return rx.cond(
        ChatState.call_tiles.length() > 0,
        rx.box(
            rx.box(local_video,
                   # No picture of mine: the camera is off, or a voice call has none at all.
                   rx.cond(~mine_shown, rx.cond(
                       ChatState.call_kind == "video", rx.icon("video-off", size=36, color="var(--gray-9)"),
                       rx.icon("user", size=44, color="var(--gray-9)", class_name="tile-voice"))),
                   rx.hstack(rx.cond(~ChatState.call_mic, rx.icon("mic-off", size=14, class_name="tile-muted")),
                             rx.text(tr("call.you"), size="2"), spacing="1", align="center", class_name="tile-name"),
                   class_name="call-tile mine"),
            rx.foreach(ChatState.call_tiles, _tile),
            class_name="call-grid", data_count=ChatState.call_tiles.length() + 1, id="call-grid",
        ),
        rx.fragment(placeholder, local_video),
    )
