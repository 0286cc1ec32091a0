"""GET /api/avatar/{avatar_id}/{size}: the stored avatar files.

No session is checked: the id is 128 random bits (unguessable), and a user
who may not see an avatar (a block either way) is never given its id. A
stored file never changes (a new upload gets a new id), so browsers and
proxies may keep it forever.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from corpchat.services import avatars

_IMMUTABLE = "public, max-age=31536000, immutable"
_SIZES = {str(size): size for size in avatars.SIZES}


async def avatar_file(request: Request) -> Response:
    avatar_id = request.path_params["avatar_id"]
    size = request.path_params["size"]
    path = avatars.file_path(avatar_id, _SIZES[size]) if size in _SIZES else None
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain",
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
    etag = f'"{avatar_id}-{size}"'
    headers = {"Cache-Control": _IMMUTABLE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    # Our ETag (the id) wins over Starlette's mtime-based one: FileResponse only sets a default.
    return FileResponse(path, media_type=avatars.MIME, headers=headers)


routes = [Route("/api/avatar/{avatar_id}/{size}", avatar_file, methods=["GET", "HEAD"])]
