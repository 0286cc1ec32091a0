"""Signed, expiring file URLs: `<img>`, `<audio>` and `<video>` cannot send headers, so the URL
itself proves who asked (viewer id), for what (file id, full file or thumbnail) and until when.

The serving route also asks for the viewer's own session and `files.may_view` on every request:
a signature is never more than "this viewer was shown this link", so logging out or leaving the
room ends access before the link expires, and a link passed to anyone else opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode

from corpchat import config

MEDIA_PREFIX = "/api/media/"
# Expiries are rounded up to this step, so a page re-rendered within it produces the same URL
# and the browser's cache keeps working.
EXPIRY_STEP = 600
VARIANTS = ("", "thumb")


def _key() -> bytes:
    # Derived, so a media signature can never be replayed as a session token or vice versa.
    return hmac.new(config.settings.jwt_secret.encode(), b"corpchat media url v1", hashlib.sha256).digest()


def _signature(file_id: str, viewer_id: int, expires: int, variant: str) -> str:
    msg = f"{variant}\n{file_id}\n{viewer_id}\n{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(_key(), msg, hashlib.sha256).digest()).decode().rstrip("=")


def sign_url(file_id: str, viewer_id: int, ttl: int | None = None, thumb: bool = False,
             now: float | None = None) -> str:
    """A same-origin path such as /api/media/<id>?u=7&e=1767225600&s=..., valid for ~ttl seconds."""
    ttl = config.settings.media_url_ttl_seconds if ttl is None else ttl
    expires = int(now if now is not None else time.time()) + ttl
    expires = -(-expires // EXPIRY_STEP) * EXPIRY_STEP if ttl >= EXPIRY_STEP else expires
    variant = "thumb" if thumb else ""
    query = urlencode({"u": viewer_id, "e": expires, "s": _signature(file_id, viewer_id, expires, variant)})
    return f"{MEDIA_PREFIX}{file_id}{'/thumb' if thumb else ''}?{query}"


def check(file_id: str, variant: str, viewer: str | None, expires: str | None, signature: str | None,
          now: float | None = None) -> int | None:
    """The viewer id when the signature is genuine and unexpired, else None."""
    if variant not in VARIANTS or not viewer or not expires or not signature:
        return None
    if not viewer.isdigit() or not expires.isdigit() or len(viewer) > 19 or len(expires) > 12:
        return None
    if int(expires) < (now if now is not None else time.time()):
        return None
    expected = _signature(file_id, int(viewer), int(expires), variant)
    return int(viewer) if hmac.compare_digest(expected, signature) else None
