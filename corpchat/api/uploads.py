"""`POST /api/upload` (a raw, streamed body) and `DELETE /api/upload/<id>`.

Uploads are raw bodies, not multipart, so nothing is buffered: the body is written to storage as
it arrives and refused the moment it passes MAX_UPLOAD_BYTES, the user's quota counting their
other uploads in flight, or a minimum pace (a body trickling a byte every few seconds held its
socket and temporary file for ever). Each user has a few uploads read at a time (more wait,
unread; too many are refused) and their own share of the worker's pace (services/upload_limits.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from corpchat.api import client_address
from corpchat.api.request_checks import same_origin, session_identity
from corpchat.config import settings
from corpchat.services import accounts, file_urls, files, storage, upload_limits
from corpchat.services.errors import ServiceError, Throttled

WRITE_BATCH = 1024 * 1024
SWEEP_EVERY = 3600.0  # s
log = logging.getLogger(__name__)


class TooSlow(Exception):
    pass


def _error(status: int, error: str, **extra) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


async def _uploader(request: Request) -> accounts.Identity | JSONResponse:
    """The signed-in user of a same-origin request, or the error response to send."""
    if not same_origin(request):
        return _error(403, "bad_origin")
    identity = await asyncio.to_thread(session_identity, request)
    return _error(401, "not_authenticated") if identity is None else identity


async def _body(request: Request):
    """The body's chunks; TooSlow when none comes for UPLOAD_STALL_SECONDS, or when after that
    long the body has averaged under UPLOAD_MIN_BYTES_PER_SECOND."""
    stall, floor = settings.upload_stall_seconds, settings.upload_min_bytes_per_second
    loop = asyncio.get_running_loop()
    started, received = loop.time(), 0
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), stall) if stall > 0 else await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise TooSlow() from None
        received += len(chunk)
        elapsed = loop.time() - started
        if stall > 0 and elapsed > stall and received < floor * elapsed:
            raise TooSlow()
        yield chunk


async def upload(request: Request) -> Response:
    identity = await _uploader(request)
    if isinstance(identity, Response):
        return identity
    user = identity.user_id
    limit = files.max_upload_bytes()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _error(413, "file_too_large", max_bytes=limit)
    try:
        await asyncio.to_thread(upload_limits.started, user, client_address.of(request))
    except Throttled:
        return _error(429, "too_many_uploads", per_minute=upload_limits.PER_USER_PER_MINUTE)
    flights = upload_limits.in_flight()
    try:
        ticket = await flights.begin(user)
    except Throttled:
        return _error(429, "too_many_uploads", max_uploads=flights.per_user + flights.queued)
    try:
        return await _receive(request, user, limit, int(declared) if declared.isdigit() else 0, ticket)
    finally:
        flights.end(user, ticket)


async def _receive(request: Request, user: int, limit: int, declared: int, ticket: int) -> Response:
    quota = settings.user_quota_bytes
    flights = upload_limits.in_flight()
    try:
        used = await asyncio.to_thread(files.used_bytes, user)
        if quota > 0 and used + flights.add(user, ticket, 0) + declared > quota:
            raise files.QuotaExceeded("err.quota_exceeded", quota_bytes=quota)
    except files.QuotaExceeded as exc:
        return _error(413, "quota_exceeded", **exc.params)
    name = request.query_params.get("name") or unquote(request.headers.get("x-file-name", ""))

    pending = await asyncio.to_thread(files.begin_upload, limit)
    try:
        received, batch = 0, bytearray()
        mine, worker = flights.pace(user), upload_limits.worker_pace()
        async for chunk in _body(request):
            await mine.take(len(chunk))
            await worker.take(len(chunk))
            received += len(chunk)
            if received > limit:
                # Refused while reading: the rest of the body is never stored.
                raise storage.TooLarge("err.file_too_large", max_bytes=limit)
            if quota > 0 and used + flights.add(user, ticket, len(chunk)) > quota:
                raise files.QuotaExceeded("err.quota_exceeded", quota_bytes=quota)
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await asyncio.to_thread(pending.write, bytes(batch))
                batch.clear()
        if batch:
            await asyncio.to_thread(pending.write, bytes(batch))
        info = await asyncio.to_thread(files.finish_upload, user, pending, name)
    except storage.TooLarge:
        pending.abort()
        return _error(413, "file_too_large", max_bytes=limit)
    except files.QuotaExceeded as exc:
        pending.abort()
        return _error(413, "quota_exceeded", **exc.params)
    except TooSlow:
        pending.abort()
        return _error(408, "upload_too_slow")
    except ClientDisconnect:
        pending.abort()
        return _error(400, "incomplete")
    except ServiceError as exc:
        pending.abort()
        return _error(400, exc.code)
    except OSError as exc:
        pending.abort()
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # The folder for files is full: a clear refusal the page shows, not a bare 500.
        log.error("upload refused: no space left for files (%s)", exc)
        return _error(507, "storage_full")
    except BaseException:
        pending.abort()
        raise
    body = {**info.payload(), "url": file_urls.sign_url(info.id, user),
            "thumb_url": file_urls.sign_url(info.id, user, thumb=True) if info.has_thumb else None}
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
]


async def _sweep_forever(ttl_seconds: float) -> None:
    await asyncio.sleep(60)  # not in the middle of starting up
    while True:
        try:
            gone = await asyncio.to_thread(files.sweep_unsent, ttl_seconds)
            if gone:
                log.info("swept %d uploads never sent", gone)
        except Exception:
            log.exception("sweeping unsent uploads failed")
        await asyncio.sleep(SWEEP_EVERY)


@contextlib.asynccontextmanager
async def lifespan(app=None):
    """Per worker: uploads never sent in a message go after UPLOAD_UNSENT_TTL_HOURS (0: kept)."""
    ttl = settings.upload_unsent_ttl_hours * 3600
    task = asyncio.get_running_loop().create_task(_sweep_forever(ttl)) if ttl > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
