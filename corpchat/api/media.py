"""Files over HTTP: `POST /api/upload` (a raw, streamed body) and `GET /api/media/<id>` (signed URLs).

Uploads are raw bodies, not multipart, so nothing is buffered: the body is written to storage as
it arrives and refused (413) the moment it passes MAX_UPLOAD_BYTES. Downloads stream from storage
in chunks, answer Range with 206, and only allowlisted, probed image/audio/video types are ever
shown inline; everything else is an attachment in a CSP sandbox, whatever its name says.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote, unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from corpchat.api.request_checks import same_origin, session_identity
from corpchat.config import settings
from corpchat.services import accounts, file_urls, files, storage
from corpchat.services.errors import ServiceError

WRITE_BATCH = 1024 * 1024


class _Pace:
    """All uploads of this worker together at most UPLOAD_MB_PER_SECOND.

    Reading a body costs the event loop time per chunk: twenty uploads at full speed
    (~290 MB/s on loopback) held chat messages back 200 ms at p99 on 2 cores. Paced, the
    loop keeps its time for the chat and a slow client never waits behind the pace."""

    def __init__(self, bytes_per_second: float):
        self.rate = bytes_per_second
        self.next = 0.0

    async def take(self, n: int) -> None:
        if self.rate <= 0:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(self.next, now)
        self.next = start + n / self.rate
        if start - now > 0.002:
            await asyncio.sleep(start - now)


_pace: _Pace | None = None


def _paced() -> _Pace:
    global _pace
    if _pace is None:
        _pace = _Pace(settings.upload_mb_per_second * 1024 * 1024)
    return _pace
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


async def serve(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    variant = request.path_params.get("variant", "")
    q = request.query_params
    viewer = file_urls.check(file_id, variant, q.get("u"), q.get("e"), q.get("s"))
    if viewer is None:
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


def _error(status: int, error: str, **extra) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


async def _uploader(request: Request) -> accounts.Identity | JSONResponse:
    """The signed-in user of a same-origin request, or the error response to send."""
    if not same_origin(request):
        return _error(403, "bad_origin")
    identity = await asyncio.to_thread(session_identity, request)
    return _error(401, "not_authenticated") if identity is None else identity


async def upload(request: Request) -> Response:
    identity = await _uploader(request)
    if isinstance(identity, Response):
        return identity
    limit = files.max_upload_bytes()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _error(413, "file_too_large", max_bytes=limit)
    try:
        await asyncio.to_thread(files.check_quota, identity.user_id, int(declared) if declared.isdigit() else 0)
    except files.QuotaExceeded as exc:
        return _error(413, "quota_exceeded", **exc.params)
    name = request.query_params.get("name") or unquote(request.headers.get("x-file-name", ""))

    pending = await asyncio.to_thread(files.begin_upload, limit)
    try:
        received, batch = 0, bytearray()
        pace = _paced()
        async for chunk in request.stream():
            await pace.take(len(chunk))
            received += len(chunk)
            if received > limit:
                # Refused while reading: the rest of the body is never stored.
                raise storage.TooLarge("err.file_too_large", max_bytes=limit)
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await asyncio.to_thread(pending.write, bytes(batch))
                batch.clear()
        if batch:
            await asyncio.to_thread(pending.write, bytes(batch))
        info = await asyncio.to_thread(files.finish_upload, identity.user_id, pending, name)
    except storage.TooLarge:
        pending.abort()
        return _error(413, "file_too_large", max_bytes=limit)
    except files.QuotaExceeded as exc:
        pending.abort()
        return _error(413, "quota_exceeded", **exc.params)
    except ClientDisconnect:
        pending.abort()
        return _error(400, "incomplete")
    except ServiceError as exc:
        pending.abort()
        return _error(400, exc.code)
    except BaseException:
        pending.abort()
        raise
    body = {**info.payload(), "url": file_urls.sign_url(info.id, identity.user_id),
            "thumb_url": file_urls.sign_url(info.id, identity.user_id, thumb=True) if info.has_thumb else None}
    return JSONResponse(body, status_code=201)


async def discard(request: Request) -> Response:
    """DELETE /api/upload/<id>: the uploader drops a file no message uses yet."""
    identity = await _uploader(request)
    if isinstance(identity, Response):
        return identity
    if not await asyncio.to_thread(files.discard, identity.user_id, request.path_params["file_id"]):
        return _error(404, "not_found")
    return Response(status_code=204)


routes = [
    Route("/api/upload", upload, methods=["POST"]),
    Route("/api/upload/{file_id:str}", discard, methods=["DELETE"]),
    Route("/api/media/{file_id:str}", serve, methods=["GET", "HEAD"]),
    Route("/api/media/{file_id:str}/{variant:str}", serve, methods=["GET", "HEAD"]),
]
