"""Security headers on every HTTP response: pages, static files and API routes alike.

With `reflex run --env prod` one ASGI app serves the compiled frontend and the API, so a
pure ASGI wrapper around it (`rx.App(api_transformer=[..., SecurityHeaders])`) is the one
place every response passes. WebSocket frames have no headers to add.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL)


def _static_dir() -> Path:
    from reflex.utils.prerequisites import get_web_dir
    from reflex_base import constants

    return get_web_dir() / constants.Dirs.STATIC


@functools.cache
def _inline_script_hashes() -> tuple[str, ...]:
    """The prerendered pages carry React Router's inline bootstrap scripts: allowed by their
    hashes (read once from the build, which is finished before the server starts), so an
    injected inline script still cannot run."""
    found = set()
    for page in _static_dir().rglob("*.html"):
        for body in _INLINE_SCRIPT.findall(page.read_bytes()):
            found.add("'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'")
    return tuple(sorted(found))


@functools.cache
def content_security_policy() -> str:
    return "; ".join([
        "default-src 'self'",
        # 'unsafe-eval': Reflex runs rx.call_script's code (the browser's time zone) with eval.
        "script-src 'self' 'unsafe-eval' " + " ".join(_inline_script_hashes()),
        # Emotion and Radix put styles into <style> elements and style attributes at run time.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        # blob:: a voice or round-video recording is played back for review before it is sent.
        "media-src 'self' blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


@functools.cache
def security_headers() -> dict[str, str]:
    from corpchat.config import settings

    headers = {
        "content-security-policy": content_security_policy(),
        # For browsers that predate frame-ancestors.
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }
    if settings.app_origins[0].startswith("https://"):
        # Served over https (through the reverse proxy): browsers never try plain http again.
        headers["strict-transport-security"] = "max-age=31536000"
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in security_headers().items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
