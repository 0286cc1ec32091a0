"""Voice messages (🎤) and round video messages (⏺): Radix markup over the recorder's state
(state/chat/recorder.py). In the browser only two pieces that are not ours: the bridge
(`recorder.js`: MediaRecorder and the upload, props in and events out, no markup) and
`react-webcam` for the round video's live preview. Review plays the recording in the
browser's own <audio>/<video>, before anything is sent."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import no_args_event_spec, passthrough_event_spec

from corpchat.components import upload_bridge  # noqa: F401  (recorder.js imports upload.js)
from corpchat.components.common import tr
from corpchat.state.base import I18nState
from corpchat.state.chat import ChatState

ASSET = rx.asset("recorder.js", shared=True)
PREVIEW_ID = "circle-live"
# What MediaRecorder is asked to make, best first (the server sniffs and probes what it gets).
FORMATS = {
    "voice": ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"],
    "video": ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"],
}
PROGRESS_MS = 250  # upload progress reaches the state at most this often
RING = {"width": "min(240px, 70vw)", "height": "min(240px, 70vw)", "border_radius": "50%",
        "object_fit": "cover", "background": "black", "display": "block"}


class RecorderBridge(rx.NoSSRComponent):
    library = f"$/public{ASSET}"
    tag = "RecorderBridge"

    wanted: rx.Var[str]  # record | review | anything else: off
    preview_id: rx.Var[str]  # the live preview to record from; "": the microphone alone
    types: rx.Var[list[str]]  # MIME types to try, best first
    name: rx.Var[str]  # the upload's file name
    max_ms: rx.Var[int]
    upload_try: rx.Var[int]

    on_tick: rx.EventHandler[passthrough_event_spec(int)]
    on_stopped: rx.EventHandler[passthrough_event_spec(int, int, str)]
    on_progress: rx.EventHandler[passthrough_event_spec(float)]
    on_uploaded: rx.EventHandler[passthrough_event_spec(str)]
    on_failed: rx.EventHandler[passthrough_event_spec(str)]


class Webcam(rx.NoSSRComponent):
    """`react-webcam`'s <video> of the camera; other props go to that element."""

    library = "react-webcam@7.2.0"
    tag = "Webcam"
    is_default = True

    audio: rx.Var[bool]  # the stream carries the microphone too: the bridge records it
    muted: rx.Var[bool]  # ...but the preview does not play it back
    mirrored: rx.Var[bool]
    video_constraints: rx.Var[dict]

    on_user_media: rx.EventHandler[no_args_event_spec]
    on_user_media_error: rx.EventHandler[no_args_event_spec]


def recorder_bridge() -> rx.Component:
    video = ChatState.rec_kind == "video"
    return RecorderBridge.create(
        wanted=ChatState.rec_wanted, preview_id=rx.cond(video, PREVIEW_ID, ""),
        types=rx.cond(video, FORMATS["video"], FORMATS["voice"]),
        name=rx.cond(video, "circle.webm", "voice.webm"), max_ms=ChatState.rec_max_ms,
        upload_try=ChatState.rec_upload_try,
        on_tick=ChatState.rec_tick, on_stopped=ChatState.rec_stopped,
        on_progress=ChatState.rec_progress_at.throttle(PROGRESS_MS),
        on_uploaded=ChatState.rec_uploaded, on_failed=ChatState.rec_failed,
    )


_phase = ChatState.rec_phase
_error_text = rx.text(I18nState.tr[ChatState.rec_error], color="var(--red-11)", size="2", role="alert")
_can_retry = (_phase == "error") & (ChatState.rec_url != "")


def _send_button(button_id: str, label: str) -> rx.Component:
    """Send, or Retry after a failed upload; busy while the upload finishes."""
    return rx.cond(
        _can_retry,
        rx.button(tr("file.retry"), type="button", id=button_id, on_click=ChatState.rec_retry),
        rx.cond(_phase != "error",
                rx.button(tr(label), type="button", id=button_id, on_click=ChatState.rec_send,
                          loading=(_phase == "sending") | (_phase == "stopping"))),
    )


def voice_recorder() -> rx.Component:
    middle = rx.cond(
        _phase == "sending", rx.progress(value=ChatState.rec_progress, flex="1", min_width="40px"),
        rx.cond(ChatState.rec_url != "",
                rx.el.audio(src=ChatState.rec_url, controls=True, id="voice-review",
                            style={"flex": "1", "min_width": "0", "height": "36px"}),
                rx.box(flex="1")),
    )
    bar = rx.hstack(
        rx.icon_button(rx.icon("x"), type="button", variant="ghost", id="voice-cancel",
                       aria_label=tr("voice.cancel"), title=tr("voice.cancel"), on_click=ChatState.rec_cancel),
        rx.box(width="10px", height="10px", border_radius="50%", flex="0 0 auto", background="var(--red-9)",
               opacity=rx.cond(_phase == "recording", "1", "0.3")),
        rx.text(ChatState.rec_clock, id="voice-elapsed", style={"font_variant_numeric": "tabular-nums"}),
        middle,
        rx.cond(_phase == "error", _error_text),
        rx.cond(_phase == "recording",
                rx.icon_button(rx.icon("square"), type="button", variant="soft", id="voice-stop",
                               aria_label=tr("voice.stop"), title=tr("voice.stop"), on_click=ChatState.rec_stop)),
        _send_button("voice-send", "voice.send"),
        id="voice-bar", position="absolute", inset="0", z_index="10", align="center", spacing="3",
        padding_x="12px", background="var(--color-panel-solid)",
    )
    return rx.fragment(
        rx.icon_button(rx.icon("mic"), type="button", variant="ghost", id="voice-button",
                       aria_label=tr("voice.record"), title=tr("voice.record"), on_click=ChatState.rec_start("voice")),
        rx.cond(ChatState.rec_kind == "voice", bar),
    )


def _circle_view() -> rx.Component:
    live = Webcam.create(
        id=PREVIEW_ID, audio=True, muted=True, mirrored=True,
        video_constraints={"width": {"ideal": 480}, "height": {"ideal": 480}, "facingMode": "user"},
        on_user_media=ChatState.rec_camera_ready, on_user_media_error=ChatState.rec_failed("no_camera"), style=RING,
    )
    review = rx.el.video(src=ChatState.rec_url, controls=True, plays_inline=True, id="circle-review", style=RING)
    return rx.cond((_phase == "recording") | (_phase == "stopping"), live,
                   rx.cond(ChatState.rec_url != "", review, rx.box(style=RING)))


def circle_recorder() -> rx.Component:
    status = rx.box(
        rx.cond((_phase == "recording") | (_phase == "stopping") | (_phase == "review"), rx.text(ChatState.rec_clock)),
        rx.cond(_phase == "sending", rx.progress(value=ChatState.rec_progress, width="200px")),
        rx.cond(_phase == "error", _error_text),
        id="circle-elapsed", style={"font_variant_numeric": "tabular-nums"}, min_height="24px",
    )
    recording = (_phase == "recording") | (_phase == "stopping")
    buttons = rx.flex(
        rx.button(tr("circle.discard"), type="button", variant="soft", id="circle-discard",
                  on_click=ChatState.rec_cancel),
        rx.cond(recording,
                rx.button(tr("circle.stop"), type="button", id="circle-stop", on_click=ChatState.rec_stop,
                          loading=_phase == "stopping"),
                rx.cond(ChatState.rec_url != "", rx.fragment(
                    rx.button(tr("circle.rerecord"), type="button", variant="soft", id="circle-rerecord",
                              on_click=ChatState.rec_again, disabled=_phase == "sending"),
                    _send_button("circle-send", "circle.send"),
                ))),
        gap="8px", wrap="wrap", justify="center",
    )
    dialog = rx.dialog.root(
        rx.dialog.content(
            rx.vstack(
                rx.dialog.title(tr("circle.record"), size="3", margin="0"),
                _circle_view(), status, buttons,
                align="center", spacing="3",
            ),
            id="circle-dialog", width="min(400px, calc(100vw - 24px))",
            # Closing by a stray tap outside would lose the take; Escape and Discard cancel.
            on_pointer_down_outside=rx.prevent_default,
        ),
        open=ChatState.rec_kind == "video",
        on_open_change=lambda _open: ChatState.rec_cancel(),
    )
    return rx.fragment(
        rx.icon_button(rx.icon("circle-dot"), type="button", variant="ghost", id="circle-button",
                       aria_label=tr("circle.record"), title=tr("circle.record"),
                       on_click=ChatState.rec_start("video")),
        dialog,
        recorder_bridge(),
    )
