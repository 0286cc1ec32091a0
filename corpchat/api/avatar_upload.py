"""POST /api/avatar: the cropped avatar from the profile page (issue 13).

A plain route rather than Reflex's /_upload: `rx.upload_files` buffers the whole
body before any handler runs (no size limit, reflex#6115; `upload_files_chunk`
streams) and its event carries no request headers, so it could not check the
session cookie of the request itself. Here the cookie is checked like every login, the Origin like every
form post, and the body is read only up to AVATAR_MAX_BYTES. The service
re-encodes whatever arrives (the browser's crop is a convenience, not a check).
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from corpchat import i18n
from corpchat.api.request_checks import same_origin, session_identity
from corpchat.config import settings
from corpchat.realtime import hub
from corpchat.services import accounts, avatars, image_decode
from corpchat.services.errors import Invalid, ServiceError


def _error(key: str, status: int, lang: str, **params) -> JSONResponse:
    return JSONResponse({"error": key, "message": i18n.t(lang, key, **params)}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes `limit` (a lying Content-Length included)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Invalid("err.avatar_too_large", max=limit // (1024 * 1024))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Invalid("err.avatar_too_large", max=limit // (1024 * 1024))
        chunks.append(chunk)
    return b"".join(chunks)


async def upload(request: Request) -> JSONResponse:
    lang = i18n.from_accept_language(request.headers.get("accept-language"))
    if not same_origin(request):
        return _error("err.forbidden", 403, lang)
    identity = await asyncio.to_thread(session_identity, request)
    if identity is None:
        return _error("err.not_authenticated", 401, lang)
    lang = await asyncio.to_thread(accounts.get_locale, identity.user_id) or lang
    try:
        raw = await _body(request, settings.avatar_max_bytes)
        # The slot is taken on the loop: a waiting upload holds no thread of the pool that every
        # other user's handlers run in.
        async with image_decode.slot_async():
            change = await asyncio.to_thread(avatars.upload_avatar, identity.user_id, raw)
    except ClientDisconnect:
        return _error("err.bad_request", 400, lang)
    except ServiceError as exc:
        status = {"err.avatar_too_large": 413, "err.too_fast": 429}.get(exc.key, 400)
        return _error(exc.key, status, lang, **exc.params)
    if change.push is not None:
        await hub.push(change.push)
    return JSONResponse({"avatar_id": change.current_id}, headers={"Cache-Control": "no-store"})


routes = [Route("/api/avatar", upload, methods=["POST"])]
