"""Avatars: upload (re-encoded by Pillow), a gallery per user, the one in use.

Rows in user_avatars, the images in services/storage (the local folder or S3, like every
file), never image bytes in the database. Each avatar is stored re-encoded at SIZES as WebP: the
upload itself is never kept, so nothing in it (EXIF with GPS, a polyglot
payload, an SVG script) can reach another user. Ids are 128 random bits, so an id cannot be
guessed; the route still checks the viewer's session and blocks (api/avatars.py).
Avatars stored before they moved to services/storage stay readable under settings.avatar_dir.
"""

from __future__ import annotations

import io
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import select

from corpchat import db
from corpchat.config import settings
from corpchat.models import User, UserAvatar
from corpchat.services import image_decode, rate_limits, storage
from corpchat.services.errors import Invalid, NotFound
from corpchat.services.events import AvatarChanged, Push
from corpchat.services.visibility import blocked_either_way_sql, profile_watchers

SIZES = (512, 64)
MIME = "image/webp"
# Formats Pillow may even try to parse: everything else (SVG, PDF, PSD, TIFF
# and Pillow's many exotic decoders) is refused before its parser runs.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
_CHUNK = 64 * 1024

# An avatar is at most 512 px: a JPEG decodes at the smallest scale that keeps this many pixels
# on its longer side (a 6300x6300 photo decodes at 3150x3150, a quarter of the memory).
DECODE_LONGEST = 2048


@dataclass(frozen=True)
class Avatar:
    id: str
    created_at: datetime
    current: bool


@dataclass(frozen=True)
class AvatarChange:
    # The avatar in use afterwards; None means initials.
    current_id: str | None
    # The new avatar (upload only).
    avatar: Avatar | None
    # Whose tabs to tell after commit: the actor's own (gallery), plus
    # contacts who can see the avatar when the current one changed.
    notify: list[int]
    # AvatarChanged to the actor and the watchers, only when the current avatar changed.
    push: Push | None = None


def upload_avatar(actor_id: int, data, crop=None) -> AvatarChange:
    """Store an uploaded image, cropped to a square, as the actor's current avatar.

    `data` is bytes or a binary stream (read at most AVATAR_MAX_BYTES + 1
    bytes); `crop` is (x, y, width, height) in pixels of the upright image,
    as Cropper.js reports it; without one the centre square is used.
    """
    rate_limits.check("avatar", actor_id)
    raw = read_limited(data, settings.avatar_max_bytes)
    box = crop_box(crop)
    with db.session() as s:
        _lock_user(s, actor_id)
        _check_room_in_gallery(s, actor_id)
    # Decoding takes up to a second on a large photo: no row lock held meanwhile.
    images = render_avatar(raw, box)
    avatar_id = secrets.token_hex(16)
    written = store(avatar_id, images)
    try:
        with db.session() as s:
            user = _lock_user(s, actor_id)
            _check_room_in_gallery(s, actor_id)
            row = UserAvatar(id=avatar_id, user_id=actor_id)
            s.add(row)
            user.avatar_id = avatar_id
            s.add(user)
            s.flush()
            s.refresh(row)
            notify = [actor_id, *profile_watchers(s, actor_id)]
    except BaseException:
        remove(avatar_id, written)
        raise
    return AvatarChange(avatar_id, Avatar(avatar_id, row.created_at, True), notify, _push(actor_id, avatar_id, notify))


def gallery(actor_id: int) -> list[Avatar]:
    """The actor's avatars, newest first."""
    with db.session() as s:
        current = s.exec(select(User.avatar_id).where(User.id == actor_id)).scalars().first()
        rows = s.exec(select(UserAvatar).where(UserAvatar.user_id == actor_id)
                      .order_by(UserAvatar.created_at.desc(), UserAvatar.id)).scalars().all()
    return [Avatar(r.id, r.created_at, r.id == current) for r in rows]


def make_current(actor_id: int, avatar_id) -> AvatarChange:
    """Switch to one of the actor's avatars, or to initials with None."""
    rate_limits.check("profile", actor_id)
    if avatar_id is not None:
        avatar_id = _valid_id(avatar_id)
    with db.session() as s:
        user = _lock_user(s, actor_id)
        if avatar_id is not None:
            _own_avatar(s, actor_id, avatar_id)
        changed = user.avatar_id != avatar_id
        user.avatar_id = avatar_id
        s.add(user)
        notify = _notify(s, actor_id, changed)
    return AvatarChange(avatar_id, None, notify, _push(actor_id, avatar_id, notify) if changed else None)


def delete_avatar(actor_id: int, avatar_id) -> AvatarChange:
    """Delete one avatar; deleting the one in use falls back to the newest remaining one."""
    rate_limits.check("profile", actor_id)
    avatar_id = _valid_id(avatar_id)
    with db.session() as s:
        user = _lock_user(s, actor_id)
        s.delete(_own_avatar(s, actor_id, avatar_id))
        s.flush()
        changed = user.avatar_id == avatar_id
        if changed:
            user.avatar_id = s.exec(
                select(UserAvatar.id).where(UserAvatar.user_id == actor_id)
                .order_by(UserAvatar.created_at.desc(), UserAvatar.id).limit(1)).scalars().first()
            s.add(user)
        notify = _notify(s, actor_id, changed)
        current = user.avatar_id
        push = _push(actor_id, current, notify) if changed else None
    # Files go only after the commit: a rolled-back delete keeps a working avatar.
    remove(avatar_id, SIZES)
    return AvatarChange(current, None, notify, push)


# The viewer's session version (a logged-out session no longer sees avatars) and whether a block
# either way stands between the viewer and the avatar's owner; no row: no such avatar (deleted).
# A group's photo (rooms.avatar_id, services/group_avatar.py) is its members' only.
_VIEWABLE = f"""
SELECT v.session_version,
       EXISTS (SELECT 1 FROM blocked_users b WHERE {blocked_either_way_sql('a.user_id', 'v.id')}) AS blocked
FROM user_avatars a JOIN users v ON v.id = %(viewer)s
WHERE a.id = %(avatar)s
UNION ALL
SELECT v.session_version, false
FROM rooms r JOIN participants p ON p.room_id = r.id AND p.user_id = %(viewer)s JOIN users v ON v.id = p.user_id
WHERE r.avatar_id = %(avatar)s
LIMIT 1"""


async def viewable_async(viewer_id: int, session_version: int, avatar_id: str) -> bool:
    """Whether this signed-in viewer may fetch this avatar (on the loop's own connection: a chat
    list asks for dozens at once)."""
    params = {"viewer": viewer_id, "avatar": avatar_id}
    row = await db.run_async(lambda conn: db.fetchone_async(conn, _VIEWABLE, params))
    return row is not None and row.session_version == session_version and not row.blocked


def read_image(avatar_id, size) -> bytes | None:
    """The stored image for the route (a few kB), or None for anything unknown or malformed."""
    if not isinstance(avatar_id, str) or not ID_PATTERN.fullmatch(avatar_id) or size not in SIZES:
        return None
    try:
        return b"".join(storage.current().open_range(storage_key(avatar_id, size)))
    except storage.MissingObject:
        legacy = legacy_path(avatar_id, size)
        return legacy.read_bytes() if legacy.is_file() else None


def storage_key(avatar_id: str, size: int) -> str:
    # The id and the size in four hex digits: 36 hex characters, a key services/storage accepts.
    return f"{avatar_id}{size:04x}"


def legacy_path(avatar_id: str, size: int) -> Path:
    """Where avatars lived before services/storage held them (read and deleted, never written)."""
    return Path(settings.avatar_dir) / avatar_id[:2] / f"{avatar_id}-{size}.webp"


# Image handling (pure: bytes in, bytes out).

def render_avatar(raw: bytes, crop: tuple[int, int, int, int] | None = None) -> dict[int, bytes]:
    """Decode, orient, crop square and re-encode at every size; metadata is not carried over."""
    with image_decode.slot():
        image, scale = _decode(raw)
        if crop is not None and scale != 1.0:
            crop = tuple(round(v * scale) for v in crop)
        return _encode_sizes(image, crop)


def _encode_sizes(image: Image.Image, crop) -> dict[int, bytes]:
    left, top, right, bottom = _square(image.size, crop)
    square = image.crop((left, top, right, bottom))
    out = {}
    for size in SIZES:
        resized = square.resize((size, size), Image.Resampling.LANCZOS)
        resized.info.clear()
        buf = io.BytesIO()
        # No exif=/icc_profile=/xmp= arguments: WebP then writes none of them.
        resized.save(buf, "WEBP", quality=85, method=4)
        out[size] = buf.getvalue()
    return out


def _decode(raw: bytes) -> tuple[Image.Image, float]:
    """The upright image and the scale it was decoded at (crop boxes are in full-size pixels)."""
    limit = settings.image_max_pixels
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as im:
            # The header alone gives the size: refuse a bomb before any pixel is decoded.
            if im.width * im.height > limit:
                raise Invalid("err.avatar_too_many_pixels", max=limit // 1_000_000)
            im.seek(0)  # an animated GIF/WebP: its first frame
            scale = image_decode.reduce_for(im, DECODE_LONGEST)
            im.load()
            # Phones store the rotation in EXIF; the browser (and so the
            # Cropper.js coordinates) shows the image upright.
            upright = ImageOps.exif_transpose(im)
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            return upright.convert("RGBA" if has_alpha else "RGB"), scale
    except Invalid:
        raise
    except Image.DecompressionBombError as exc:
        raise Invalid("err.avatar_too_many_pixels", max=limit // 1_000_000) from exc
    except Exception as exc:
        # Malformed input makes Pillow's decoders raise almost anything
        # (OSError, SyntaxError, struct.error, IndexError...): all mean "not an image".
        raise Invalid("err.avatar_not_image") from exc


def crop_box(crop) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) from the client, checked for type only; bounds are checked on the image."""
    if crop is None:
        return None
    if not isinstance(crop, (tuple, list)) or len(crop) != 4:
        raise Invalid("err.avatar_crop")
    values = []
    for v in crop:
        if type(v) not in (int, float) or not math.isfinite(v) or abs(v) > 1_000_000:
            raise Invalid("err.avatar_crop")
        values.append(round(v))
    return tuple(values)  # type: ignore[return-value]


def _square(size: tuple[int, int], crop) -> tuple[int, int, int, int]:
    """The largest square in the crop (clamped to the image), centred in it."""
    width, height = size
    if crop is None:
        x0, y0, x1, y1 = 0, 0, width, height
    else:
        x, y, w, h = crop
        # Cropper.js may overshoot the edge by a pixel after rounding: clamp.
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        if x1 - x0 < 1 or y1 - y0 < 1:
            raise Invalid("err.avatar_crop")
    side = min(x1 - x0, y1 - y0)
    left = x0 + (x1 - x0 - side) // 2
    top = y0 + (y1 - y0 - side) // 2
    return left, top, left + side, top + side


# Storage and rows.

def read_limited(data, limit: int) -> bytes:
    """All of data, refusing more than limit bytes without reading much past it."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    elif hasattr(data, "read"):
        parts, total = [], 0
        while total <= limit:
            chunk = data.read(min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            if not isinstance(chunk, (bytes, bytearray)):
                raise Invalid("err.avatar_not_image")
            parts.append(bytes(chunk))
            total += len(chunk)
        raw = b"".join(parts)
    else:
        raise Invalid("err.avatar_not_image")
    if len(raw) > limit:
        raise Invalid("err.avatar_too_large", max=limit // (1024 * 1024))
    if not raw:
        raise Invalid("err.avatar_not_image")
    return raw


def store(avatar_id: str, images: dict[int, bytes]) -> list[int]:
    """Every size under its key; the sizes stored (all, or none after a failure)."""
    store, written = storage.current(), []
    try:
        for size, blob in images.items():
            # A reader never sees half an image: storage commits a finished temporary file.
            with store.begin(len(blob)) as upload:
                upload.write(blob)
                upload.commit(storage_key(avatar_id, size))
            written.append(size)
    except BaseException:
        remove(avatar_id, written)
        raise
    return written


def remove(avatar_id: str, sizes) -> None:
    store = storage.current()
    for size in sizes:
        store.delete(storage_key(avatar_id, size))
        legacy_path(avatar_id, size).unlink(missing_ok=True)


def _valid_id(avatar_id) -> str:
    if not isinstance(avatar_id, str) or not ID_PATTERN.fullmatch(avatar_id):
        raise Invalid()
    return avatar_id


def _lock_user(s, user_id: int) -> User:
    """The user row, locked: gallery count and current avatar change one at a time per user."""
    user = s.exec(select(User).where(User.id == user_id).with_for_update()).scalars().first()
    if user is None:
        raise NotFound()
    return user


def _own_avatar(s, actor_id: int, avatar_id: str) -> UserAvatar:
    row = s.exec(select(UserAvatar).where(UserAvatar.id == avatar_id,
                                          UserAvatar.user_id == actor_id)).scalars().first()
    if row is None:
        raise NotFound()
    return row


def _check_room_in_gallery(s, actor_id: int) -> None:
    limit = settings.avatar_gallery_limit
    count = len(s.exec(select(UserAvatar.id).where(UserAvatar.user_id == actor_id)).all())
    if count >= limit:
        raise Invalid("err.avatar_gallery_full", max=limit)


def _push(actor_id: int, avatar_id: str | None, notify: list[int]) -> Push:
    return Push(tuple(notify), AvatarChanged(user_id=actor_id, avatar_id=avatar_id or ""))


def _notify(s, actor_id: int, current_changed: bool) -> list[int]:
    return [actor_id, *profile_watchers(s, actor_id)] if current_changed else [actor_id]
