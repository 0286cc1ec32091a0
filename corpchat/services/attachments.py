"""Sending an uploaded file as a message: a file with a caption, a voice message, a round video.

The bytes arrived earlier through `POST /api/upload` (api/media.py); here the sender names the
file by id. The id comes from the client, so it is checked for shape here and for ownership both
here (a clear error) and inside the send statement (services/send.py, which a concurrent
`files.discard` cannot race). The message is written by the one send statement.
"""

from __future__ import annotations

import asyncio
import re

from corpchat.services import files
from corpchat.services.errors import Invalid, NotFound
from corpchat.services.send import FILE_MESSAGE_KINDS, Sent, send_async

FILE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
# Round videos are recorded for at most 60 s; the duration is the server's own measurement.
MAX_CIRCLE_MS = 61_000
MAX_FILES_PER_SEND = 10


def check_file_id(value) -> str:
    if not isinstance(value, str) or not FILE_ID_RE.fullmatch(value):
        raise Invalid()
    return value


def check_kind(value) -> str:
    if not isinstance(value, str) or value not in FILE_MESSAGE_KINDS:
        raise Invalid()
    return value


def payload_for(actor_id: int, file_id, kind) -> dict:
    """What the message will carry, once the file is known to be the sender's and fit for `kind`."""
    file_id, kind = check_file_id(file_id), check_kind(kind)
    info = files.get(file_id)
    if info is None or info.owner_id != actor_id:
        raise NotFound("err.file_gone")
    if kind == "voice" and info.kind != "audio":
        raise Invalid("err.not_voice")
    if kind == "video" and (info.kind != "video" or (info.duration_ms or 0) > MAX_CIRCLE_MS):
        raise Invalid("err.not_circle")
    return info.payload()


def payloads_for(actor_id: int, items: list[tuple[str, str]]) -> list[dict]:
    """payload_for of each (file id, kind), all checked before any is sent."""
    return [payload_for(actor_id, file_id, kind) for file_id, kind in items]


async def send_file(actor_id: int, room_id, file_id, kind, caption, client_id) -> Sent:
    payload = await asyncio.to_thread(payload_for, actor_id, file_id, kind)
    return await send_async(actor_id, room_id, caption, client_id, kind, payload)


def send_file_sync(actor_id: int, room_id, file_id, kind, caption, client_id) -> Sent:
    """For tests and scripts (see send.send_sync)."""
    from corpchat.services.send import send_sync

    return send_sync(actor_id, room_id, caption, client_id, kind, payload_for(actor_id, file_id, kind))
