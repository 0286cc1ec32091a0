"""Rows for tests and benchmarks, written directly (there is no group service yet)."""

from __future__ import annotations

from corpchat import db
from corpchat.models import BlockedUser, Participant, Room, User


def make_user(login: str) -> int:
    with db.session() as s:
        user = User(login=login, password_hash="x")
        s.add(user)
        s.flush()
        return user.id


def make_group(owner: int, *members: int, admins: tuple[int, ...] = (), name: str = "team") -> int:
    with db.session() as s:
        room = Room(kind="group", name=name, created_by=owner)
        s.add(room)
        s.flush()
        s.add(Participant(room_id=room.id, user_id=owner, role="owner"))
        for uid in members:
            s.add(Participant(room_id=room.id, user_id=uid, role="admin" if uid in admins else "member"))
        return room.id


def block(blocker: int, blocked: int) -> None:
    with db.session() as s:
        s.add(BlockedUser(blocker_id=blocker, blocked_id=blocked))


def store_file(owner_id: int, chunks, name: str | None, max_bytes: int | None = None):
    """Keep a file from byte chunks, as the upload route does (files.begin_upload/finish_upload)."""
    from corpchat.services import files

    upload = files.begin_upload(max_bytes)
    try:
        for chunk in chunks:
            upload.write(chunk)
    except BaseException:
        upload.abort()
        raise
    return files.finish_upload(owner_id, upload, name)
