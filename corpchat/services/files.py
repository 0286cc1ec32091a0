"""Uploaded files: keeping one (probe, store, record), quotas, and who may view it.

A message refers to a file by putting `file_payload(info)` (which holds "file_id") into
messages.payload; that reference is what lets room members see the file (`may_view`).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, text

from corpchat import config, db
from corpchat.models import UploadedFile, User
from corpchat.services import image_meta, media_probe, storage
from corpchat.services.errors import ServiceError
from corpchat.services.storage import Upload
from corpchat.services.visibility import visible_message_sql

FILE_ID_BYTES = 16
log = logging.getLogger(__name__)


class QuotaExceeded(ServiceError):
    code = "quota_exceeded"


@dataclass(frozen=True)
class FileInfo:
    id: str
    owner_id: int | None
    name: str
    size: int
    sha256: str
    mime: str
    kind: str
    width: int | None
    height: int | None
    duration_ms: int | None
    has_thumb: bool

    @property
    def inline(self) -> bool:
        """Safe to show in the page: a probed image/audio/video of an allowlisted type."""
        return self.kind != "file" and self.mime in media_probe.INLINE_TYPES

    def payload(self) -> dict:
        """What a file/voice/video message stores in messages.payload (no storage keys)."""
        return {"file_id": self.id, "name": self.name, "size": self.size, "mime": self.mime,
                "kind": self.kind, "width": self.width, "height": self.height,
                "duration_ms": self.duration_ms, "thumb": self.has_thumb}


def _info(row: UploadedFile) -> FileInfo:
    return FileInfo(row.id, row.owner_id, row.name, row.size, row.sha256, row.mime, row.kind, row.width,
                    row.height, row.duration_ms, row.thumb_key is not None)


def max_upload_bytes() -> int:
    return config.settings.max_upload_bytes


def used_bytes(user_id: int) -> int:
    with db.session() as s:
        return int(s.exec(select(func.coalesce(func.sum(UploadedFile.size), 0))
                          .where(UploadedFile.owner_id == user_id)).one()[0])


def check_quota(user_id: int, incoming: int) -> None:
    """Refuse early (before reading a body) when `incoming` more bytes cannot fit."""
    quota = config.settings.user_quota_bytes
    if quota > 0 and used_bytes(user_id) + incoming > quota:
        raise QuotaExceeded("err.quota_exceeded", quota_bytes=quota)


def begin_upload(max_bytes: int | None = None) -> Upload:
    """A streamed upload into the current storage; hand it to `finish_upload` when written."""
    return storage.current().begin(max_bytes or max_upload_bytes())


def finish_upload(owner_id: int, upload: Upload, name: str | None) -> FileInfo:
    """Probe the written upload, keep it in storage and record it. On any failure nothing stays
    behind: neither the bytes nor a row."""
    try:
        upload.finish_writing()
        check_quota(owner_id, upload.size)
        probed = media_probe.probe(upload.path, upload.head_bytes)
        if probed.kind == "image" and (clean := image_meta.strip(probed.mime, upload.path)) is not None:
            upload.replace(clean)  # where a photo was taken stays with its owner
        elif probed.needs_duration:
            _state_duration(upload)  # a voice or round video recorded in the browser
        store = upload.storage
        stored = upload.commit()
    except BaseException:
        upload.abort()
        raise
    keys = [stored.key]
    try:
        thumb_key = None
        if probed.thumb:
            thumb_key = store.put([probed.thumb], len(probed.thumb)).key
            keys.append(thumb_key)
        row = UploadedFile(
            id=secrets.token_urlsafe(FILE_ID_BYTES), owner_id=owner_id, storage_key=stored.key,
            thumb_key=thumb_key, name=media_probe.safe_name(name), size=stored.size, sha256=stored.sha256,
            mime=probed.mime, kind=probed.kind, width=probed.width, height=probed.height,
            duration_ms=probed.duration_ms,
        )
        _insert_within_quota(row)
    except BaseException:
        for key in keys:
            store.delete(key)
        raise
    return _info(row)


def _state_duration(upload: Upload) -> None:
    """Remux a MediaRecorder webm so its header states the duration: the page's plain <audio> and
    <video> players then show the length and can seek. Kept as it was if that fails."""
    fixed = upload.path.with_suffix(".remux")
    try:
        media_probe.remux_with_duration(upload.path, fixed)
        upload.replace_file(fixed)
    except Exception as exc:  # noqa: BLE001 (playable as it is, only without a stated length)
        log.info("could not state the duration of a recording: %s", exc)
    finally:
        fixed.unlink(missing_ok=True)


def _insert_within_quota(row: UploadedFile) -> None:
    quota = config.settings.user_quota_bytes
    with db.session() as s:
        if quota > 0:
            # The owner's row lock serialises their concurrent uploads, so two cannot both pass.
            s.exec(select(User.id).where(User.id == row.owner_id).with_for_update())
            used = s.exec(select(func.coalesce(func.sum(UploadedFile.size), 0))
                          .where(UploadedFile.owner_id == row.owner_id)).one()[0]
            if used + row.size > quota:
                raise QuotaExceeded("err.quota_exceeded", quota_bytes=quota)
        s.add(row)


def get(file_id: str) -> FileInfo | None:
    row = _row(file_id)
    return None if row is None else _info(row)


def _row(file_id: str) -> UploadedFile | None:
    if not isinstance(file_id, str) or not 0 < len(file_id) <= 32:
        return None
    with db.session() as s:
        return s.get(UploadedFile, file_id)


@dataclass(frozen=True)
class Servable:
    info: FileInfo
    storage_key: str
    thumb_key: str | None


def servable(file_id: str) -> Servable | None:
    """What the serving route needs; None for an unknown id."""
    row = _row(file_id)
    return None if row is None else Servable(_info(row), row.storage_key, row.thumb_key)


# The owner, or a member of a room with a live message referencing the file that this member
# has not deleted for themselves (hidden_for) nor cleared with "delete chat for me" (cleared_seq).
# The payload predicate matches ix_messages_payload_file_id: index lookups per file.
_VIEWABLE = text(f"""
SELECT f.id FROM files f
WHERE f.id = ANY (:fids) AND (f.owner_id = :uid OR EXISTS (
        SELECT 1 FROM messages m
        JOIN participants p ON p.room_id = m.room_id AND p.user_id = :uid
        WHERE m.payload ? 'file_id' AND (m.payload ->> 'file_id') = f.id AND {visible_message_sql("m", "p")}))
""")


def may_view(viewer_id: int, file_id: str) -> bool:
    if not isinstance(file_id, str) or not file_id:
        return False
    return file_id in viewable(viewer_id, [file_id])


def viewable(viewer_id: int, file_ids: list[str]) -> set[str]:
    """Which of these files the viewer may see (one query for a page's worth of bubbles)."""
    if not isinstance(viewer_id, int) or not file_ids:
        return set()
    with db.engine().connect() as conn:
        return set(conn.execute(_VIEWABLE, {"fids": list(file_ids), "uid": viewer_id}).scalars())


_REFERENCED = text(
    "SELECT EXISTS (SELECT 1 FROM messages WHERE payload ? 'file_id' AND (payload ->> 'file_id') = :fid)")


def discard(owner_id: int, file_id: str) -> bool:
    """Delete an upload its owner never sent (a discarded voice or video preview, a cancelled
    attachment). False when it is someone else's, unknown, or already referenced by a message."""
    return _delete_unreferenced(file_id, owner_id)


def release(file_id: str) -> bool:
    """Delete a file whose message was deleted for everyone, unless another message refers to it."""
    return _delete_unreferenced(file_id, None)


_UNSENT = text(
    "SELECT f.id FROM files f WHERE f.created_at < now() - make_interval(secs => :age) AND NOT EXISTS "
    "(SELECT 1 FROM messages m WHERE m.payload ? 'file_id' AND (m.payload ->> 'file_id') = f.id) "
    "ORDER BY f.created_at LIMIT :n")


def sweep_unsent(older_than_seconds: float, batch: int = 500) -> int:
    """Delete uploads never sent in a message within `older_than_seconds` (a tab closed mid-way,
    a script uploading and never sending); returns how many went."""
    gone = 0
    while True:
        with db.session() as s:
            ids = s.execute(_UNSENT, {"age": older_than_seconds, "n": batch}).scalars().all()
        deleted = sum(_delete_unreferenced(file_id, None) for file_id in ids)
        gone += deleted
        if len(ids) < batch or not deleted:  # the rest were sent meanwhile
            return gone


def _delete_unreferenced(file_id: str, owner_id: int | None) -> bool:
    if not isinstance(file_id, str) or not 0 < len(file_id) <= 32:
        return False
    with db.session() as s:
        # FOR UPDATE against the send statement's FOR SHARE (services/send.py): a send either
        # finds the row gone or commits its reference before this check runs.
        row = s.get(UploadedFile, file_id, with_for_update=True)
        if row is None or (owner_id is not None and row.owner_id != owner_id) \
                or s.execute(_REFERENCED, {"fid": file_id}).scalar():
            return False
        keys = [k for k in (row.storage_key, row.thumb_key) if k]
        s.delete(row)
    store = storage.current()
    for key in keys:
        store.delete(key)
    return True


def open_file(servable_file: Servable, start: int = 0, end: int | None = None, thumb: bool = False):
    key = servable_file.thumb_key if thumb else servable_file.storage_key
    if key is None:
        raise storage.MissingObject()
    return storage.current().open_range(key, start, end)
