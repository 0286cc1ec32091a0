"""The call screen (issue 23), in Python: the ringing dialog (every tab of the callee), "calling…",
the remote picture (or the avatar when there is none; my own picture small), a group's tiles
(group_calls.py), the buttons, the timer (react-moment counts it in the browser: no round trip a
second); and the bridge (call_bridge.jsx) that owns the PeerJS `Peer` and the media streams, props
in and events out, no markup. The <video> elements are ours; the bridge finds them by id."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import passthrough_event_spec

from corpchat.components.common import avatar, tr
from corpchat.components.group_calls import group_stage
from corpchat.state.chat import ChatState
from corpchat.state.chat.calls import signalling_path

ASSET = rx.asset("call_bridge.jsx", shared=True)
LOCAL_VIDEO, REMOTE_VIDEO, TIMER, SHARE = "call-local-video", "call-remote-video", "call-timer", "call-screen-share"
DURATION = "h:*m:ss"  # moment-duration-format; "*" stops trimming at the minutes: 0:07, 12:30, 1:02:03


class CallBridge(rx.NoSSRComponent):
    library = f"$/public{ASSET}"
    lib_dependencies: list[str] = ["peerjs@1.5.5"]
    tag = "CallBridge"

    peer_id: rx.Var[str]
    token: rx.Var[str]
    ice_servers: rx.Var[list]
    path: rx.Var[str]
    dial: rx.Var[list]
    keep: rx.Var[list]  # a group's participants the server counts in the call (the others are hung up on)
    video: rx.Var[bool]
    mic: rx.Var[bool]
    camera: rx.Var[bool]
    screen: rx.Var[bool]
    phase: rx.Var[str]  # only to re-render (and so re-attach the streams) when the screen changes
    local_video_id: rx.Var[str]
    full: rx.Var[bool]  # the call screen in the browser's full screen
    full_id: rx.Var[str]
    remote_video_id: rx.Var[str]  # a 1:1 call's one remote <video> ("": a group's, by peer id)

    # Each names the remote peer it concerns ("" for the Peer's own errors).
    on_open: rx.EventHandler[passthrough_event_spec(str)]
    on_connected: rx.EventHandler[passthrough_event_spec(str)]
    on_remote: rx.EventHandler[passthrough_event_spec(str, dict)]
    on_left: rx.EventHandler[passthrough_event_spec(str)]
    on_screen: rx.EventHandler[passthrough_event_spec(bool)]
    on_full: rx.EventHandler[passthrough_event_spec(bool)]
    on_error: rx.EventHandler[passthrough_event_spec(str, str)]


def _bridge() -> rx.Component:
    return CallBridge.create(
        peer_id=ChatState.call_peer_id, token=ChatState.call_peer_token, ice_servers=ChatState.call_ice,
        path=signalling_path(), dial=ChatState.call_dial, keep=ChatState.call_peers,
        video=ChatState.call_kind == "video",
        mic=ChatState.call_mic, camera=ChatState.call_camera, screen=ChatState.call_screen,
        phase=ChatState.call_phase + ChatState.call_tiles.length().to(str),
        full=ChatState.call_full, full_id="call-screen", on_full=ChatState.full_state,
        local_video_id=LOCAL_VIDEO, remote_video_id=rx.cond(ChatState.call_group, "", REMOTE_VIDEO),
        on_open=lambda _id: ChatState.call_bridge("open"),
        on_connected=lambda _peer: ChatState.call_bridge("connected"),
        on_remote=lambda peer, state: ChatState.remote_media(state, peer),
        on_screen=ChatState.screen_state,
        on_left=lambda _peer: ChatState.call_bridge("ended"),
        # A connection to one peer failing, or a peer dialled being gone, is "lost": the end of a
        # 1:1 call, one tile fewer in a group's (the server says who is in).
        on_error=lambda code, peer: ChatState.call_bridge(
            rx.cond((peer != "") | (code == "peer-unavailable"), "lost", "error")),
        key=ChatState.call_peer_id,
    )


def call_buttons() -> rx.Component:
    """📹 and 📞 in a private chat's or a group's header."""
    callable_ = (ChatState.room_other_id > 0) | (ChatState.room_kind == "group")
    return rx.cond(callable_ & (ChatState.call_phase == ""), rx.hstack(
        rx.icon_button(rx.icon("video"), variant="ghost", on_click=ChatState.start_call(ChatState.room_id, "video"),
                       aria_label=tr("call.video"), title=tr("call.video"), id="call-video"),
        rx.icon_button(rx.icon("phone"), variant="ghost", on_click=ChatState.start_call(ChatState.room_id, "voice"),
                       aria_label=tr("call.voice"), title=tr("call.voice"), id="call-voice"),
        spacing="1"))


def _round(icon: str, label: str, handler, color: str = "gray", id_: str = "") -> rx.Component:
    return rx.icon_button(rx.icon(icon), on_click=handler, radius="full", size="4", color_scheme=color,
                          aria_label=tr(label), title=tr(label), id=id_)


def _ringing() -> rx.Component:
    return rx.vstack(
        avatar(ChatState.call_with_initials, "7"),
        rx.text(ChatState.call_with, size="5", weight="bold", id="call-with"),
        rx.cond(ChatState.call_caller != "", rx.text(ChatState.call_caller, size="3", id="call-caller")),
        rx.text(rx.cond(ChatState.call_kind == "video", tr("call.incoming_video"), tr("call.incoming_voice")),
                color_scheme="gray"),
        rx.hstack(_round("phone-off", "call.decline", ChatState.decline_call, "red", "call-decline"),
                  _round("phone", "call.accept", ChatState.accept_call, "green", "call-accept"),
                  spacing="8", padding_top="16px"),
        align="center", spacing="3", id="call-ringing",
    )


def _placeholder(show: rx.Var[bool]) -> rx.Component:
    """Who is called ("calling…", "connecting…"), or whose camera is off."""
    return rx.cond(show, rx.vstack(
        avatar(ChatState.call_with_initials, "8"),
        rx.hstack(rx.text(ChatState.call_with, size="5", weight="bold", id="call-with"),
                  rx.cond(~ChatState.call_remote_mic & ~ChatState.call_group,
                          rx.icon("mic-off", id="call-remote-muted")),
                  align="center"),
        rx.text(rx.cond(ChatState.call_phase == "calling", tr("call.calling"),
                        rx.cond(ChatState.call_phase == "active", "", tr("call.connecting"))),
                color_scheme="gray", id="call-status"),
        align="center", spacing="3", class_name="call-placeholder"))


def _in_call() -> rx.Component:
    active = ChatState.call_phase == "active"
    show_video = (active & (ChatState.call_kind == "video") & ChatState.call_remote_video
                  & ChatState.call_remote_frames)
    local = rx.el.video(id=LOCAL_VIDEO, auto_play=True, plays_inline=True, muted=True, class_name="call-local",
                        display=rx.cond((ChatState.call_kind == "video")
                                        & (ChatState.call_camera | ChatState.call_screen), "block", "none"))
    return rx.box(
        rx.cond(
            ChatState.call_group,
            group_stage(local, _placeholder(True)),
            rx.fragment(
                rx.el.video(id=REMOTE_VIDEO, auto_play=True, plays_inline=True, class_name="call-remote",
                            display=rx.cond(show_video, "block", "none")),
                _placeholder(~show_video),
                local)),
        rx.cond(active & (ChatState.call_since != ""),
                rx.moment(date=ChatState.call_since, duration_from_now=True, format=DURATION, trim=True,
                          interval=1000, id=TIMER, class_name="call-timer")),
        rx.hstack(
            rx.cond(ChatState.call_mic, _round("mic", "call.mic_off", ChatState.toggle_mic, "gray", "call-mic"),
                    _round("mic-off", "call.mic_on", ChatState.toggle_mic, "red", "call-mic")),
            rx.cond(ChatState.call_kind == "video",
                    rx.cond(ChatState.call_camera,
                            _round("video", "call.camera_off", ChatState.toggle_camera, "gray", "call-camera"),
                            _round("video-off", "call.camera_on", ChatState.toggle_camera, "red", "call-camera"))),
            rx.cond((ChatState.call_kind == "video") & active,
                    rx.cond(ChatState.call_screen,
                            _round("monitor-off", "call.screen_off", ChatState.toggle_screen, "blue", SHARE),
                            _round("monitor-up", "call.screen_on", ChatState.toggle_screen, "gray", SHARE))),
            rx.cond(ChatState.call_full,
                    _round("minimize", "call.full_off", ChatState.toggle_full, "blue", "call-full"),
                    _round("maximize", "call.full_on", ChatState.toggle_full, "gray", "call-full")),
            _round("phone-off", "call.hang_up", ChatState.hang_up, "red", "call-hang-up"),
            spacing="5", class_name="call-buttons"),
        class_name="call-stage", id="call-stage",
    )


def call_screen() -> rx.Component:
    """Over the whole page while a call rings or runs (a phone-sized screen too)."""
    return rx.cond(ChatState.call_phase != "", rx.box(
        rx.cond(ChatState.call_phase == "ringing", _ringing(), _in_call()),
        rx.cond(ChatState.call_peer_id != "", _bridge()),
        class_name="call-screen", id="call-screen", data_phase=ChatState.call_phase,
    ))
