"""Voice messages (🎤) and round video messages (⏺): MediaRecorder in the browser, the upload
route for the bytes, ChatState.send_files for the message."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import passthrough_event_spec

from corpchat.components import attachments, upload_bridge  # noqa: F401  (recorder.jsx imports both)
from corpchat.state.base import I18nState
from corpchat.state.chat import ChatState

ASSET = rx.asset("recorder.jsx", shared=True)


class VoiceRecorder(rx.NoSSRComponent):
    library = f"$/public{ASSET}"
    tag = "VoiceRecorder"

    labels: rx.Var[dict]
    on_send: rx.EventHandler[passthrough_event_spec(list, str)]


class CircleRecorder(rx.NoSSRComponent):
    library = f"$/public{ASSET}"
    tag = "CircleRecorder"

    labels: rx.Var[dict]
    on_send: rx.EventHandler[passthrough_event_spec(list, str)]


def voice_recorder() -> rx.Component:
    return VoiceRecorder.create(labels=I18nState.tr, on_send=ChatState.send_files)


def circle_recorder() -> rx.Component:
    return CircleRecorder.create(labels=I18nState.tr, on_send=ChatState.send_files)
