"""Attaching files (📎, drag-and-drop, paste; upload progress, cancel, retry) and a file
message's part of a bubble: thumbnail, players, or a card with a download button."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import passthrough_event_spec

from corpchat.components import upload_bridge  # noqa: F401  (attachments.jsx imports upload.js)
from corpchat.config import settings
from corpchat.state.base import I18nState
from corpchat.state.chat import ChatState

ASSET = rx.asset("attachments.jsx", shared=True)
DROP_TARGET = "room-pane"


class Attacher(rx.NoSSRComponent):
    library = f"$/public{ASSET}"
    tag = "Attacher"

    labels: rx.Var[dict]
    drop_target: rx.Var[str]
    max_bytes: rx.Var[int]
    room: rx.Var[int]
    # [{file_id, kind, client_id}], caption: files already uploaded, to send as messages
    on_send: rx.EventHandler[passthrough_event_spec(list, str)]


class FileView(rx.NoSSRComponent):
    library = f"$/public{ASSET}"
    tag = "FileView"

    kind: rx.Var[str]
    file: rx.Var[Any]
    url: rx.Var[str]
    thumb_url: rx.Var[str]
    labels: rx.Var[dict]
    on_need: rx.EventHandler[passthrough_event_spec(list)]


def attacher() -> rx.Component:
    return Attacher.create(labels=I18nState.tr, drop_target=DROP_TARGET, max_bytes=settings.max_upload_bytes,
                           room=ChatState.room_id, on_send=ChatState.send_files)


def file_view(m) -> rx.Component:
    """The file of a file/voice/video bubble; the URLs are this tab's own (ChatState.media_urls)."""
    file_id = m["file"]["id"].to(str)
    return FileView.create(kind=m["kind"], file=m["file"], url=ChatState.media_urls[file_id],
                           thumb_url=ChatState.media_urls[file_id + "/thumb"], labels=I18nState.tr,
                           on_need=ChatState.want_media)
