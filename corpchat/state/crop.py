"""What the avatar cropper (components/cropper.py) reports to Python, checked once for every page
that has one (the profile, a group's settings): any client may send anything here."""

from __future__ import annotations

import math

from corpchat.services import avatars
from corpchat.services.errors import Invalid

# What the cropper may report on its own (before or instead of the server's answer).
CROPPER_ERRORS = ("err.avatar_too_large", "err.avatar_not_image", "err.avatar_too_many_pixels",
                  "err.avatar_gallery_full", "err.avatar_crop", "err.too_fast", "err.bad_request",
                  "err.not_authenticated", "err.forbidden", "err.not_found")
# react-dropzone's reasons for refusing a chosen file -> what the user is told.
REFUSALS = {"file-too-large": "err.avatar_too_large", "file-invalid-type": "err.avatar_not_image",
            "too-many-files": "err.avatar_not_image"}
BOX_KEYS = ("x", "y", "width", "height")


def box_of(box) -> dict | None:
    """The cropper's box after a gesture, or None for anything else (the server checks again)."""
    if not isinstance(box, dict):
        return None
    values = [box.get(k) for k in BOX_KEYS]
    if not all(type(v) in (int, float) and math.isfinite(v) and 0 <= round(v) <= 1_000_000 for v in values):
        return None
    values = [round(v) for v in values]
    if values[2] < 1 or values[3] < 1:
        return None
    return dict(zip(BOX_KEYS, values, strict=True))


def refusal_of(rejected) -> str:
    """react-dropzone's rejection -> the error key to show."""
    try:
        code = rejected[0]["errors"][0]["code"]
    except (TypeError, KeyError, IndexError):
        raise Invalid() from None
    if not isinstance(code, str) or code not in REFUSALS:
        raise Invalid()
    return REFUSALS[code]


def answer_of(answer) -> tuple[str | None, str, int | None]:
    """The upload route's answer through the browser: (the new avatar id, "", None) or
    (None, an error key, the limit it names)."""
    if not isinstance(answer, dict):
        raise Invalid()
    avatar_id = answer.get("avatar_id")
    if avatar_id is not None:
        if not isinstance(avatar_id, str) or not avatars.ID_PATTERN.fullmatch(avatar_id):
            raise Invalid()
        return avatar_id, "", None
    key, limit = answer.get("error"), answer.get("max")
    if not isinstance(key, str) or key not in CROPPER_ERRORS:
        raise Invalid()
    return None, key, limit if type(limit) is int and 0 <= limit < 1_000_000 else None


def error_key(key) -> str:
    if not isinstance(key, str) or key not in CROPPER_ERRORS:
        raise Invalid()
    return key
