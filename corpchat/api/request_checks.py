"""What every form post is checked for before it is believed: its origin, its size, its session."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from corpchat.config import settings
from corpchat.services import accounts
from corpchat.services.errors import ServiceError

MAX_FORM_BYTES = 8 * 1024


def same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF, forced logout).

    Compared with the configured origins, scheme included, never with the Host header:
    a request naming `evil` as both its Origin and its Host is still cross-site.
    """
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        referer = request.headers.get("referer")
        if not referer:
            # No browser omits both on a cross-site POST; scripts and curl are not CSRF.
            return origin is None
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.rstrip("/").lower() in settings.app_origins


async def read_form(request: Request) -> dict[str, str] | None:
    """The posted fields, or None when the body is over MAX_FORM_BYTES.

    Counted while reading, whatever the framing: a chunked body has no Content-Length
    to refuse in advance, and must not be buffered whole before it is judged.
    """
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    form = await Request(request.scope, replay).form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def session_identity(request: Request) -> accounts.Identity | None:
    """The user of the request's session cookie (None: none, expired or revoked)."""
    try:
        return accounts.verify_token(request.cookies.get(settings.cookie_name))
    except ServiceError:
        return None
