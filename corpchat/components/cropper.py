"""The avatar cropper: Cropper.js (react-cropper) with a square frame and a round preview.

The profile page passes `upload_url="/api/avatar"` (api/avatar_upload.py): the
cropped square is posted there with the session cookie and a size limit, and
`on_saved` gets the new id; services.avatars.upload_avatar re-checks and
re-encodes whatever arrives. `on_crop` reports the box (x, y, width, height) of
each gesture, for a caller that wants it.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import passthrough_event_spec
from reflex_components_core.core.upload import upload_file

from corpchat.config import settings


class AvatarCropper(rx.NoSSRComponent):
    library = f"$/public{rx.asset('cropper.jsx', shared=True)}"
    # react-cropper 2.x wraps Cropper.js 1.x (cropperjs 2 is a different, web-component API).
    lib_dependencies: list[str] = ["react-cropper@2.3.3", "cropperjs@1.6.2"]
    tag = "AvatarCropper"

    # Reflex's "put these files in the upload map under an id" function.
    set_files: rx.Var[Any]
    max_bytes: rx.Var[int]
    preview_size: rx.Var[int]
    height: rx.Var[int]
    choose_label: rx.Var[str]
    upload_url: rx.Var[str]
    save_label: rx.Var[str]
    # The new avatar's id once `upload_url` accepted the cropped image.
    on_saved: rx.EventHandler[passthrough_event_spec(str)]
    # {x, y, width, height} in pixels of the upright image, rounded.
    on_crop: rx.EventHandler[passthrough_event_spec(dict)]
    # An error key (err.avatar_too_large) when the browser already knows the file is refused.
    on_error: rx.EventHandler[passthrough_event_spec(str)]


def avatar_cropper(upload_id: str, *, on_crop, on_error=None, choose_label: str | rx.Var = "",
                   preview_size: int = 96, height: int = 320, upload_url: str = "", on_saved=None,
                   save_label: str | rx.Var = "") -> rx.Component:
    props: dict = {
        "set_files": upload_file(upload_id),
        "max_bytes": settings.avatar_max_bytes,
        "preview_size": preview_size,
        "height": height,
        "on_crop": on_crop,
    }
    if isinstance(choose_label, rx.Var) or choose_label:
        props["choose_label"] = choose_label
    if on_error is not None:
        props["on_error"] = on_error
    if upload_url:
        props.update(upload_url=upload_url, on_saved=on_saved, save_label=save_label)
    return AvatarCropper.create(**props)
