"""POST /api/avatar: the avatar from the profile page (issues 13, 21); POST
/api/group-avatar/{room_id}: a group's photo from its settings page (issue 22), the same way.

The body is the chosen image as it is; `?x=&y=&w=&h=` is the crop box (pixels of the
upright image) that the cropper reported to Python, and the server crops and re-encodes.
Without a box the centre square is taken.

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
from corpchat.services import accounts, avatars, group_avatar, image_decode
from corpchat.services.errors import Invalid, ServiceError
from corpchat.services.events import pushes


def _error(key: str, status: int, lang: str, **params) -> JSONResponse:
    body = {"error": key, "message": i18n.t(lang, key, **params)}
    if isinstance(params.get("max"), int):
        body["max"] = params["max"]  # for the page to name the limit in its own language
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _crop(request: Request) -> tuple[int, int, int, int] | None:
    """The crop box of the query string, all four or none; bounds are checked on the image."""
    names = ("x", "y", "w", "h")
    given = [request.query_params.get(n) for n in names]
    if all(v is None for v in given):
        return None
    if not all(v is not None and v.isascii() and v.isdigit() and len(v) <= 7 for v in given):
        raise Invalid("err.avatar_crop")
    return tuple(int(v) for v in given)  # type: ignore[return-value]


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


async def _receive(request: Request, store) -> JSONResponse:
    """The checks every avatar upload shares, then `store(user_id, raw, crop)` in a thread; it
    returns (the new avatar's id, what to tell)."""
    lang = i18n.from_accept_language(request.headers.get("accept-language"))
    if not same_origin(request):
        return _error("err.forbidden", 403, lang)
    identity = await asyncio.to_thread(session_identity, request)
    if identity is None:
        return _error("err.not_authenticated", 401, lang)
    lang = await asyncio.to_thread(accounts.get_locale, identity.user_id) or lang
    try:
        crop = _crop(request)
        raw = await _body(request, settings.avatar_max_bytes)
        # The slot is taken on the loop: a waiting upload holds no thread of the pool that every
        # other user's handlers run in.
        async with image_decode.slot_async():
            avatar_id, told = await asyncio.to_thread(store, identity.user_id, raw, crop)
    except ClientDisconnect:
        return _error("err.bad_request", 400, lang)
    except ServiceError as exc:
        status = {"err.avatar_too_large": 413, "err.too_fast": 429, "err.forbidden": 403,
                  "err.not_found": 404}.get(exc.key, 400)
        return _error(exc.key, status, lang, **exc.params)
    for push in pushes(told):
        await hub.push(push)
    return JSONResponse({"avatar_id": avatar_id}, headers={"Cache-Control": "no-store"})


async def upload(request: Request) -> JSONResponse:
    def store(user_id, raw, crop):
        change = avatars.upload_avatar(user_id, raw, crop)
        return change.current_id, change.push
    return await _receive(request, store)


async def upload_group(request: Request) -> JSONResponse:
    """POST /api/group-avatar/{room_id}: the group's photo (the owner and admins; the service
    checks the role, a forged or foreign id is refused like any other)."""
    room = request.path_params["room_id"]
    room_id = int(room) if room.isascii() and room.isdigit() and len(room) <= 18 else 0
    return await _receive(request, lambda user_id, raw, crop: group_avatar.set_avatar(user_id, room_id, raw, crop))


routes = [Route("/api/avatar", upload, methods=["POST"]),
          Route("/api/group-avatar/{room_id}", upload_group, methods=["POST"])]
