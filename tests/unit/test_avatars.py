"""Avatars on a real PostgreSQL and both storage backends (a temporary folder and S3), with
images made by Pillow; a temporary AVATAR_DIR holds avatars stored before services/storage."""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from corpchat import db
from corpchat.models import User, UserAvatar
from corpchat.services import avatars, blocks
from corpchat.services.errors import Invalid, NotFound
from corpchat.views import initials
from tests.factories import make_group, make_user

RED, BLUE = (255, 0, 0), (0, 0, 255)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The local backend in a temporary folder; returns the folder."""
    from corpchat.services import storage

    monkeypatch.setattr(avatars, "settings", dataclasses.replace(avatars.settings, avatar_dir=tmp_path / "legacy"))
    monkeypatch.setattr(storage, "_current", storage.LocalStorage(tmp_path / "files"))
    return tmp_path / "files"


def image_bytes(size=(300, 200), fmt="PNG", colour=RED, **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt, **save)
    return buf.getvalue()


def halves(size=(200, 100), fmt="PNG", **save) -> bytes:
    """Left half red, right half blue."""
    im = Image.new("RGB", size, RED)
    im.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes whose IHDR claims width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def decoded(blob: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(blob))
    im.load()
    return im


def stored_files(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts)


def key_of(fn, *args, **kwargs) -> str:
    with pytest.raises(Invalid) as err:
        fn(*args, **kwargs)
    return err.value.key


# Rendering.

def test_render_square_webp_at_both_sizes():
    out = avatars.render_avatar(image_bytes((300, 200)))
    assert set(out) == {512, 64}
    for size, blob in out.items():
        im = decoded(blob)
        assert (im.format, im.size) == ("WEBP", (size, size))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_accepted_formats(fmt):
    assert decoded(avatars.render_avatar(image_bytes(fmt=fmt))[64]).size == (64, 64)


def test_crop_takes_the_chosen_area():
    out = decoded(avatars.render_avatar(halves(), (100, 0, 100, 100))[512]).convert("RGB")
    r, g, b = out.getpixel((256, 256))
    assert b > 200 and r < 50
    out = decoded(avatars.render_avatar(halves(), (0, 0, 100, 100))[512]).convert("RGB")
    assert out.getpixel((256, 256))[0] > 200


def test_crop_is_squared_and_clamped():
    # Overshooting the edge (Cropper.js rounding) is clamped; a wide box becomes its centre square.
    assert avatars._square((200, 100), (150, -2, 60, 104)) == (150, 25, 200, 75)
    assert avatars._square((200, 100), (0, 0, 200, 100)) == (50, 0, 150, 100)
    assert avatars._square((200, 100), None) == (50, 0, 150, 100)
    assert avatars._square((100, 300), None) == (0, 100, 100, 200)


@pytest.mark.parametrize("crop", [
    (300, 0, 10, 10), (0, 0, 0, 10), (-50, -50, 10, 10), (1, 2, 3), "0,0,1,1", (0, 0, float("nan"), 1),
    (0, 0, float("inf"), 1), (True, 0, 10, 10), (0, 0, "10", 10), {"x": 0}, (0, 0, 10**12, 10),
])
def test_bad_crops_are_refused(crop):
    assert key_of(lambda: avatars.render_avatar(halves(), avatars.crop_box(crop))) == "err.avatar_crop"


def test_fractional_crop_from_cropperjs_is_rounded():
    assert avatars.crop_box((0.4, 10.6, 99.5, 99.5)) == (0, 11, 100, 100)


def test_exif_with_gps_is_stripped_and_orientation_applied():
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Maker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (50.0, 27.0, 1.5), 3: "E", 4: (30.0, 31.0, 2.5)})
    raw = halves((200, 100), "JPEG", exif=exif, quality=95)
    assert b"SpyCam Maker" in raw and Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)
    # Upright, the image is 100x200 with red on top: its lower square is blue.
    out = avatars.render_avatar(raw, (0, 100, 100, 100))
    for blob in out.values():
        assert b"SpyCam" not in blob and b"Exif" not in blob
        im = decoded(blob)
        assert not im.getexif() and not {"exif", "xmp", "icc_profile"} & set(im.info)
    assert decoded(out[512]).convert("RGB").getpixel((256, 256))[2] > 200


def test_transparency_is_kept():
    buf = io.BytesIO()
    Image.new("RGBA", (80, 80), (0, 0, 0, 0)).save(buf, "PNG")
    assert decoded(avatars.render_avatar(buf.getvalue())[64]).getpixel((10, 10))[3] == 0


def test_bomb_declared_in_the_header_is_refused_before_decoding():
    bomb = png_declaring(100_000, 100_000)
    assert len(bomb) < 500
    with pytest.raises(Invalid) as err:
        avatars.render_avatar(bomb)
    assert err.value.key == "err.avatar_too_many_pixels" and err.value.params == {"max": 40}


def test_pixel_limit_is_a_setting(monkeypatch):
    monkeypatch.setattr(avatars, "settings", dataclasses.replace(avatars.settings, image_max_pixels=10_000))
    assert key_of(avatars.render_avatar, image_bytes((101, 100))) == "err.avatar_too_many_pixels"
    assert avatars.render_avatar(image_bytes((100, 100)))


@pytest.mark.parametrize("raw", [
    b"hello, this is a text file renamed avatar.png\n",
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>',
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    b"\x89PNG\r\n\x1a\n" + b"\0" * 50,  # a PNG signature and garbage
    image_bytes(fmt="PNG")[:100],  # truncated
    image_bytes(fmt="BMP"),  # a real image in a format we do not take
    image_bytes(fmt="TIFF"),
])
def test_non_images_are_refused(raw):
    assert key_of(avatars.render_avatar, raw) == "err.avatar_not_image"


# Upload, gallery, current, delete.

def test_upload_stores_files_and_a_row(db_clean, store):
    a = make_user("alice")
    change = avatars.upload_avatar(a, image_bytes())
    aid = change.current_id
    assert len(aid) == 32 and int(aid, 16) >= 0 and change.avatar.id == aid and change.avatar.current
    assert change.notify == [a]
    assert stored_files(store) == sorted([f"{aid}0200", f"{aid}0040"])
    assert decoded(avatars.read_image(aid, 512)).size == (512, 512)
    with db.session() as s:
        assert s.exec(select(User.avatar_id).where(User.id == a)).scalar_one() == aid
        assert s.exec(select(UserAvatar.user_id).where(UserAvatar.id == aid)).scalar_one() == a


def test_avatars_live_in_either_storage_backend(db_clean, backend, tmp_path, monkeypatch):
    """With STORAGE_BACKEND=s3 the images go to the bucket like every other file (18 hygiene)."""
    monkeypatch.setattr(avatars, "settings", dataclasses.replace(avatars.settings, avatar_dir=tmp_path / "legacy"))
    a = make_user("alice")
    aid = avatars.upload_avatar(a, image_bytes()).current_id
    assert backend.size(avatars.storage_key(aid, 64)) == len(avatars.read_image(aid, 64))
    assert decoded(avatars.read_image(aid, 64)).size == (64, 64)
    assert not (tmp_path / "legacy").exists()
    avatars.delete_avatar(a, aid)
    assert avatars.read_image(aid, 64) is None and avatars.read_image(aid, 512) is None


def test_an_avatar_stored_before_the_move_is_still_served_and_deleted(db_clean, store):
    a = make_user("alice")
    aid = "ab" * 16
    with db.session() as s:
        s.add(UserAvatar(id=aid, user_id=a))
        s.get(User, a).avatar_id = aid
    blob = avatars.render_avatar(image_bytes())[64]
    old = avatars.legacy_path(aid, 64)
    old.parent.mkdir(parents=True)
    old.write_bytes(blob)
    assert avatars.read_image(aid, 64) == blob
    assert avatars.delete_avatar(a, aid).current_id is None
    assert not old.exists() and avatars.read_image(aid, 64) is None


def test_upload_from_a_stream(db_clean, store):
    a = make_user("alice")
    assert avatars.upload_avatar(a, io.BytesIO(image_bytes()), crop=[10, 10, 50, 50]).current_id


class Endless(io.RawIOBase):
    def __init__(self):
        self.read_bytes = 0

    def read(self, n=-1):
        self.read_bytes += n
        return b"\0" * n


def test_oversized_uploads_are_refused_without_reading_everything(db_clean, store):
    a = make_user("alice")
    limit = avatars.settings.avatar_max_bytes
    assert limit == 10 * 1024 * 1024
    assert key_of(avatars.upload_avatar, a, b"\0" * (limit + 1)) == "err.avatar_too_large"
    stream = Endless()
    with pytest.raises(Invalid) as err:
        avatars.upload_avatar(a, stream)
    assert err.value.key == "err.avatar_too_large" and err.value.params == {"max": 10}
    assert stream.read_bytes == limit + 1
    for bad in (None, "string", 5, [b"x"], b""):
        assert key_of(avatars.upload_avatar, a, bad) == "err.avatar_not_image"
    assert stored_files(store) == []


def test_refused_images_leave_no_files_or_rows(db_clean, store):
    a = make_user("alice")
    for raw in (png_declaring(100_000, 100_000), b"not an image"):
        with pytest.raises(Invalid):
            avatars.upload_avatar(a, raw)
    assert stored_files(store) == [] and avatars.gallery(a) == []


def test_gallery_switch_and_delete_fallback(db_clean, store):
    a = make_user("alice")
    first, second, third = (avatars.upload_avatar(a, image_bytes(colour=(i, i, i))).current_id
                            for i in (10, 20, 30))
    assert [(g.id, g.current) for g in avatars.gallery(a)] == [(third, True), (second, False), (first, False)]
    assert avatars.make_current(a, first).current_id == first
    assert [g.id for g in avatars.gallery(a) if g.current] == [first]
    # Deleting the one in use falls back to the newest remaining one.
    assert avatars.delete_avatar(a, first).current_id == third
    assert avatars.read_image(first, 512) is None and avatars.read_image(first, 64) is None
    # Deleting another keeps the current one.
    assert avatars.delete_avatar(a, second).current_id == third
    assert avatars.delete_avatar(a, third).current_id is None  # initials now
    assert avatars.gallery(a) == [] and stored_files(store) == []


def test_make_current_none_means_initials(db_clean, store):
    a = make_user("alice")
    aid = avatars.upload_avatar(a, image_bytes()).current_id
    assert avatars.make_current(a, None).current_id is None
    assert [g.current for g in avatars.gallery(a)] == [False]
    assert avatars.make_current(a, aid).current_id == aid


def test_someone_elses_avatar_is_not_found(db_clean, store):
    a, b = make_user("alice"), make_user("bob")
    aid = avatars.upload_avatar(a, image_bytes()).current_id
    with pytest.raises(NotFound):
        avatars.make_current(b, aid)
    with pytest.raises(NotFound):
        avatars.delete_avatar(b, aid)
    with pytest.raises(NotFound):
        avatars.delete_avatar(a, "0" * 32)
    for bad in ("../../etc/passwd", aid.upper(), aid + "0", 5, ["x"]):
        with pytest.raises(Invalid):
            avatars.make_current(a, bad)
        with pytest.raises(Invalid):
            avatars.delete_avatar(a, bad)
    assert avatars.read_image(aid, 512) is not None


def test_gallery_limit(db_clean, store, monkeypatch):
    monkeypatch.setattr(avatars, "settings", dataclasses.replace(avatars.settings, avatar_gallery_limit=2))
    a = make_user("alice")
    avatars.upload_avatar(a, image_bytes())
    avatars.upload_avatar(a, image_bytes())
    with pytest.raises(Invalid) as err:
        avatars.upload_avatar(a, image_bytes())
    assert err.value.key == "err.avatar_gallery_full" and err.value.params == {"max": 2}
    assert len(stored_files(store)) == 4


def test_contacts_are_told_except_blocked_ones(db_clean, store):
    a, b, c, d = (make_user(n) for n in ("alice", "bob", "carol", "dave"))
    make_group(a, b, c)
    blocks.block(c, a)
    up = avatars.upload_avatar(a, image_bytes())
    assert up.notify == [a, b]  # dave shares no room, carol blocked alice
    second = avatars.upload_avatar(a, image_bytes()).current_id
    # Deleting a gallery entry that is not in use concerns only alice's own tabs.
    assert avatars.delete_avatar(a, up.current_id).notify == [a]
    assert avatars.make_current(a, second).notify == [a]  # unchanged
    assert avatars.make_current(a, None).notify == [a, b]


def test_deleting_the_user_deletes_the_rows(db_clean, store):
    a = make_user("alice")
    avatars.upload_avatar(a, image_bytes())
    with db.session() as s:
        s.delete(s.get(User, a))
    with db.session() as s:
        assert s.exec(select(UserAvatar)).all() == []


# Initials.

@pytest.mark.parametrize("name,expected", [
    ("Olena Petrenko", "OP"), ("bob", "B"), ("john.smith", "JS"), ("Анна Марія Коваль", "АМ"), ("", "?"),
    ("olena_k", "OK"),
])
def test_initials(name, expected):
    """One initials function for every place that shows them (views.initials)."""
    assert initials(name) == expected


def test_crop_of_a_big_jpeg_decoded_at_reduced_scale_takes_the_chosen_area():
    """A big JPEG decodes at 1/2 (draft); the crop, given in full-size pixels, is scaled with it."""
    big = halves(size=(6000, 6000), fmt="JPEG", quality=80)
    image, scale = avatars._decode(big)
    assert scale == 0.5 and image.size == (3000, 3000)
    out = decoded(avatars.render_avatar(big, (3000, 0, 3000, 3000))[512]).convert("RGB")
    r, g, b = out.getpixel((256, 256))
    assert b > 200 and r < 50


def test_avatar_changes_are_rate_limited_per_user(db_clean, store, monkeypatch):
    from corpchat.services import rate_limits
    from corpchat.services.errors import Throttled

    monkeypatch.setitem(rate_limits._LIMITS, "avatar", rate_limits.TokenBucket(2, 1))
    a, b = make_user("alice"), make_user("bob")
    avatars.upload_avatar(a, image_bytes())
    avatars.upload_avatar(a, image_bytes())
    with pytest.raises(Throttled):
        avatars.upload_avatar(a, image_bytes())
    avatars.upload_avatar(b, image_bytes())  # another user is not slowed
