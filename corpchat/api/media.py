"""Files over HTTP: `GET /api/media/<id>` (signed URLs); uploads are api/uploads.py.

Downloads stream from storage in chunks, answer Range with 206, and only allowlisted, probed
image/audio/video types are ever shown inline; everything else is an attachment in a CSP
sandbox, whatever its name says.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from corpchat.config import settings
from corpchat.services import accounts, file_urls, files, storage
from corpchat.services.errors import ServiceError

INLINE_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
ATTACHMENT_CSP = "sandbox; default-src 'none'"


class RangeNotSatisfiable(Exception):
    pass


_HUGE = 10**18


def _offset(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _HUGE if len(digits) > 18 else int(digits)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single `bytes=` range; None to send the whole file (no header,
    another unit, or several ranges, which we need not support)."""
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes="):].strip()
    if "," in spec:
        return None
    first, dash, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not dash or (first and not first.isdigit()) or (last and not last.isdigit()) or not (first or last):
        raise RangeNotSatisfiable()
    # A number longer than any file size is clamped before int(): Python refuses to parse more
    # than 4,300 digits (a 500 with a traceback), and nothing that long can be a real offset.
    first_n, last_n = (_offset(x) if x else None for x in (first, last))
    if first_n is None:  # "-N": the last N bytes
        if last_n == 0 or size == 0:
            raise RangeNotSatisfiable()
        return max(0, size - last_n), size - 1
    end = size - 1 if last_n is None else min(last_n, size - 1)
    if first_n >= size or (last_n is not None and last_n < first_n):
        raise RangeNotSatisfiable()
    return first_n, end


def content_disposition(disposition: str, name: str) -> str:
    """RFC 6266: an ASCII fallback for old clients plus the exact UTF-8 name in filename*."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in name).strip() or "file"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _forbidden() -> Response:
    # The same answer for unknown, unauthorised, expired and forged: nothing to learn from it.
    return Response("forbidden", status_code=403, media_type="text/plain",
                    headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


async def _signed_in_as(request: Request, viewer: int) -> bool:
    """The link alone is not enough: the request carries the session of the viewer it was made
    for (same-origin <img>/<video>/<a> send the cookie), so a link copied out of the page, or
    kept after logging out, opens nothing."""
    try:
        identity = await accounts.verify_token_async(request.cookies.get(settings.cookie_name))
    except ServiceError:
        return False
    return identity.user_id == viewer


async def serve(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    variant = request.path_params.get("variant", "")
    q = request.query_params
    viewer = file_urls.check(file_id, variant, q.get("u"), q.get("e"), q.get("s"))
    if viewer is None or not await _signed_in_as(request, viewer):
        return _forbidden()
    servable = await asyncio.to_thread(files.servable, file_id)
    if servable is None or not await asyncio.to_thread(files.may_view, viewer, file_id):
        return _forbidden()
    info, thumb = servable.info, variant == "thumb"
    if thumb and servable.thumb_key is None:
        return Response("not found", status_code=404, media_type="text/plain")
    try:
        size = await asyncio.to_thread(storage.current().size, servable.thumb_key) if thumb else info.size
    except storage.MissingObject:
        return Response("not found", status_code=404, media_type="text/plain")

    inline = (thumb or info.inline) and q.get("dl") != "1"
    etag = f'"{info.sha256}{"-t" if thumb else ""}"'
    headers = {
        "Content-Type": ("image/webp" if thumb else info.mime) if inline else "application/octet-stream",
        "Content-Disposition": content_disposition("inline" if inline else "attachment", info.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": INLINE_CSP if inline else ATTACHMENT_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Referrer-Policy": "no-referrer",
        "Accept-Ranges": "bytes",
        "ETag": etag,
        # A file id's bytes never change; the URL stops working at its expiry anyway.
        "Cache-Control": f"private, max-age={max(0, int(q['e']) - int(time.time()))}, immutable",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    byte_range = None
    if request.headers.get("if-range", etag) == etag:
        try:
            byte_range = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}",
                                                      "X-Content-Type-Options": "nosniff"})
    start, end = byte_range or (0, size - 1)
    status = 206 if byte_range else 200
    if byte_range:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers)
    try:
        chunks = await asyncio.to_thread(files.open_file, servable, start, end, thumb)
    except storage.MissingObject:
        return Response("not found", status_code=404, media_type="text/plain")
    return StreamingResponse(chunks, status_code=status, headers=headers)


routes = [
    Route("/api/media/{file_id:str}", serve, methods=["GET", "HEAD"]),
    Route("/api/media/{file_id:str}/{variant:str}", serve, methods=["GET", "HEAD"]),
]
