"""A group's photo: set (the profile cropper's upload, cropped and re-encoded the same way as a
person's avatar) or removed by the owner and admins.

Stored like a person's avatar (services/avatars.py: WebP at avatars.SIZES under a random id, in
services/storage), but kept by the room itself (`rooms.avatar_id`), with no gallery: a group
has one photo, and the one it replaces is deleted once the change is committed. The route that
serves it (api/avatars.py) shows it to the group's members only. Each change writes its
audit-log row and system line in its own transaction and tells every member
(`GroupAvatarChanged`): their chat lists, headers and the settings page switch to it at once.
"""

from __future__ import annotations

import secrets

from corpchat import db
from corpchat.config import settings
from corpchat.models import GroupLog
from corpchat.services import avatars, policy, rate_limits, system_messages
from corpchat.services.access import access_room
from corpchat.services.events import GroupAvatarChanged, Push
from corpchat.services.visibility import room_members


def set_avatar(actor_id: int, room_id, data, crop=None) -> tuple[str, list[Push]]:
    """The uploaded image (bytes or a stream), cropped to `crop` = (x, y, w, h) or its centre
    square, as the group's photo; returns its id and what to tell. A bad image changes nothing."""
    rate_limits.check("avatar", actor_id)
    raw = avatars.read_limited(data, settings.avatar_max_bytes)
    box = avatars.crop_box(crop)
    with db.session() as s:  # refused before any decoding: a member's upload costs no CPU
        room, me = access_room(s, actor_id, room_id)
        policy.require(me.role, "group.avatar", room.kind)
    # Decoding takes up to a second on a large photo: no row lock held meanwhile.
    images = avatars.render_avatar(raw, box)
    avatar_id = secrets.token_hex(16)
    written = avatars.store(avatar_id, images)
    try:
        old, pushes = _change(actor_id, room_id, avatar_id)
    except BaseException:
        avatars.remove(avatar_id, written)
        raise
    _forget(old)
    return avatar_id, pushes


def remove_avatar(actor_id: int, room_id) -> list[Push]:
    """Back to initials."""
    rate_limits.check("profile", actor_id)
    old, pushes = _change(actor_id, room_id, None)
    _forget(old)
    return pushes


def _change(actor_id: int, room_id, avatar_id: str | None) -> tuple[str | None, list[Push]]:
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        policy.require(me.role, "group.avatar", room.kind)  # again: the role may have changed meanwhile
        old = room.avatar_id
        if old == avatar_id:
            return None, []
        room.avatar_id = avatar_id
        s.add(room)
        s.add(GroupLog(room_id=room.id, actor_id=actor_id, action="avatar",
                       details={"old": old or "", "new": avatar_id or ""}))
        note = system_messages.write(s, room.id, "avatar_changed" if avatar_id else "avatar_removed",
                                     actor=actor_id)
        return old, [Push(room_members(s, room.id), GroupAvatarChanged(room.id, avatar_id=avatar_id or "")), note]


def _forget(avatar_id: str | None) -> None:
    # Only after the commit: a rolled-back change keeps a photo that works.
    if avatar_id:
        avatars.remove(avatar_id, avatars.SIZES)
