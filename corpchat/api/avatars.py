"""GET /api/avatar/{avatar_id}/{size}: the stored avatar files, to signed-in viewers.

The id is 128 random bits, and the views never hand it across a block; the route checks again
(the viewer's session, a block either way, the avatar not deleted), because an id once seen
stays in the page, the history and the browser's cache. A stored file never changes (a new
upload gets a new id), but it may stop being visible: cached privately for a few minutes, then
revalidated by its ETag (a 304 after the same checks).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from corpchat.config import settings
from corpchat.services import accounts, avatars
from corpchat.services.errors import ServiceError

CACHE = "private, max-age=300"
_SIZES = {str(size): size for size in avatars.SIZES}


def _not_found() -> Response:
    return Response("Not found", status_code=404, media_type="text/plain",
                    headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


async def avatar_file(request: Request) -> Response:
    avatar_id = request.path_params["avatar_id"]
    size = request.path_params["size"]
    if size not in _SIZES or not avatars.ID_PATTERN.fullmatch(avatar_id):
        return _not_found()
    try:
        viewer, version = accounts.decode_token(request.cookies.get(settings.cookie_name))
    except ServiceError:
        return _not_found()
    if not await avatars.viewable_async(viewer, version, avatar_id):
        return _not_found()  # the same answer as for no such avatar: nothing to learn from it
    etag = f'"{avatar_id}-{size}"'
    headers = {"Cache-Control": CACHE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    # A few kB from the local folder or S3 (a blocking client): off the loop.
    image = await asyncio.to_thread(avatars.read_image, avatar_id, _SIZES[size])
    if image is None:
        return _not_found()
    if request.method == "HEAD":
        return Response(status_code=200, headers={**headers, "Content-Length": str(len(image))},
                        media_type=avatars.MIME)
    return Response(image, media_type=avatars.MIME, headers=headers)


routes = [Route("/api/avatar/{avatar_id}/{size}", avatar_file, methods=["GET", "HEAD"])]
