"""File metadata: safe names, sniffed types, previews (bomb-safe), durations, quota, who may view."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import secrets
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import text

from corpchat import config, db
from corpchat.models import Message, Room
from corpchat.services import files, media_probe
from corpchat.services.storage import TooLarge
from tests import media_samples
from tests.factories import make_group, make_user, store_file

MB = 1024 * 1024


def _user() -> int:
    return make_user("f" + secrets.token_hex(6))


def _settings(monkeypatch, **changes):
    monkeypatch.setattr(config, "settings", dataclasses.replace(config.settings, **changes))


@pytest.mark.parametrize("raw, expected", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("/etc/shadow", "shadow"),
    ("C:\\Windows\\system32\\cmd.exe", "cmd.exe"),
    ("a\x00b.txt", "ab.txt"),
    ("line\nbreak\r.txt", "linebreak.txt"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),
    ("x\u2066y\u2069z\u200f.doc", "xyz.doc"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("com1.tar.gz", "_com1.tar.gz"),
    ("LPT9", "_LPT9"),
    ("console.txt", "console.txt"),
    ('what?"<>|*:.txt', "what_______.txt"),
    ("..", "file"),
    ("", "file"),
    (None, "file"),
    ("   . ", "file"),
    (".bashrc", "bashrc"),
    ("trailing. . ", "trailing"),
    ("Звіт за квартал.xlsx", "Звіт за квартал.xlsx"),
])
def test_safe_name(raw, expected):
    assert media_probe.safe_name(raw) == expected


def test_safe_name_caps_bytes_and_keeps_extension():
    name = media_probe.safe_name("я" * 400 + ".docx")
    assert name.endswith(".docx") and len(name.encode()) <= 255
    assert media_probe.safe_name("a" * 300).startswith("a") and len(media_probe.safe_name("a" * 300)) == 255
    # A very long "extension" is not one: cut like the rest of the name.
    assert len(media_probe.safe_name("x." + "b" * 300).encode()) <= 255


@pytest.mark.parametrize("data, mime", [
    (media_samples.image("PNG"), "image/png"),
    (media_samples.image("JPEG"), "image/jpeg"),
    (b"<html><script>alert(1)</script></html>", "application/octet-stream"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "application/octet-stream"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"MZ\x90\x00" + b"\x00" * 60, "application/x-msdownload"),
])
def test_sniff_ignores_names_and_claims(data, mime):
    assert media_probe.sniff(data) == mime


def test_image_thumbnail_is_small_and_made_once(backend):
    owner = _user()
    info = store_file(owner, [media_samples.image("JPEG", (1600, 900))], "photo.bin")
    assert (info.kind, info.mime, info.width, info.height, info.has_thumb) == ("image", "image/jpeg", 1600, 900, True)
    assert info.inline and info.name == "photo.bin"
    serv = files.servable(info.id)
    thumb = b"".join(files.open_file(serv, thumb=True))
    with Image.open(io.BytesIO(thumb)) as im:
        assert im.format == "WEBP" and max(im.size) == media_probe.THUMB_PX


def test_bomb_png_gets_no_thumbnail_and_is_not_decoded(backend):
    import tracemalloc

    owner = _user()
    tracemalloc.start()
    info = store_file(owner, [media_samples.png_bomb()], "bomb.png")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not info.has_thumb and not info.inline and info.kind == "file"
    assert peak < 20 * MB
    # Under Pillow's own refusal but over ours: measured from the header, never decoded.
    wide = store_file(owner, [media_samples.png_bomb(40_000, 1_000)], "wide.png")
    assert (wide.kind, wide.width, wide.height, wide.has_thumb) == ("image", 40_000, 1_000, False)


@pytest.mark.parametrize("maker, mime, kind", [
    (lambda: media_samples.audio(2.0), "audio/webm", "audio"),
    (lambda: media_samples.audio(2.0, fmt="ogg"), "audio/ogg", "audio"),
    (lambda: media_samples.recorder_webm(2.0), "audio/webm", "audio"),
    (lambda: media_samples.video(seconds=1.0), "video/mp4", "video"),
    (lambda: media_samples.video("webm", "libvpx", seconds=1.0), "video/webm", "video"),
])
def test_media_duration_measured_on_server(backend, maker, mime, kind):
    info = store_file(_user(), [maker()], "recording")
    assert (info.mime, info.kind) == (mime, kind)
    expected = 1000 if kind == "video" else 2000
    assert abs(info.duration_ms - expected) <= 60
    if kind == "video":
        assert (info.width, info.height, info.has_thumb) == (64, 48, True)


def test_a_browser_recording_is_stored_with_its_duration_in_the_header(backend):
    """21#4: MediaRecorder's webm states no duration, so a plain <audio controls> showed no
    length and could not seek; the server remuxes it (packets copied, nothing re-encoded)."""
    import av

    raw = media_samples.recorder_webm(3.0)
    with av.open(io.BytesIO(raw)) as before:
        assert not before.duration
    info = store_file(_user(), [raw], "voice.webm")
    stored = _stored_bytes(info)
    assert info.size == len(stored) and info.sha256 == hashlib.sha256(stored).hexdigest()
    assert info.mime == "audio/webm" and abs(info.duration_ms - 3000) <= 60
    with av.open(io.BytesIO(stored)) as after, av.open(io.BytesIO(raw)) as before:
        assert abs(after.duration / 1_000_000 - 3.0) <= 0.1
        assert [bytes(p) for p in after.demux() if p.size] == [bytes(p) for p in before.demux() if p.size]


def test_broken_media_is_a_plain_file(backend):
    data = media_samples.video()
    info = store_file(_user(), [data[:200] + b"\x00" * 500], "cut.mp4")
    assert info.kind == "file" and not info.inline


def test_oversize_refused_and_nothing_kept(backend):
    owner = _user()
    with pytest.raises(TooLarge):
        store_file(owner, [b"x" * MB] * 3, "big.bin", max_bytes=2 * MB)
    assert files.used_bytes(owner) == 0


def test_quota(backend, monkeypatch):
    owner = _user()
    _settings(monkeypatch, user_quota_bytes=3 * MB)
    store_file(owner, [b"a" * 2 * MB], "one.bin")
    with pytest.raises(files.QuotaExceeded):
        files.check_quota(owner, 2 * MB)
    with pytest.raises(files.QuotaExceeded):
        store_file(owner, [b"b" * 2 * MB], "two.bin")
    assert files.used_bytes(owner) == 2 * MB
    store_file(_user(), [b"c" * 2 * MB], "other-user.bin")


def _post(room_id: int, sender: int, file_id: str, **extra) -> int:
    with db.session() as s:
        room = s.get(Room, room_id)
        room.last_seq += 1
        msg = Message(room_id=room_id, seq=room.last_seq, sender_id=sender, kind="file",
                      payload={"file_id": file_id, "name": "x"}, **extra)
        s.add(msg)
        s.flush()
        return msg.id


def test_may_view():
    owner, member, stranger, late = _user(), _user(), _user(), _user()
    info = store_file(owner, [b"hello"], "a.txt")
    assert files.may_view(owner, info.id)
    assert not files.may_view(member, info.id)
    room = make_group(owner, member)
    _post(room, owner, info.id)
    assert files.may_view(member, info.id)
    assert not files.may_view(stranger, info.id)
    assert not files.may_view(member, info.id + "x") and not files.may_view(member, "")
    # Removing the reference (delete for everyone) or the membership takes access away.
    with db.session() as s:
        s.execute(Message.__table__.update().where(Message.room_id == room).values(deleted_at=datetime.now(UTC)))
    assert not files.may_view(member, info.id)
    other_room = make_group(owner, late, member)
    msg = _post(other_room, owner, info.id, hidden_for=[member])
    assert files.may_view(late, info.id) and not files.may_view(member, info.id)
    with db.session() as s:
        s.execute(Message.__table__.update().where(Message.id == msg).values(hidden_for=[]))
        s.execute(text("UPDATE participants SET cleared_seq = 1 WHERE room_id = :r AND user_id = :u"),
                  {"r": other_room, "u": late})
    assert files.may_view(member, info.id) and not files.may_view(late, info.id)


def test_signed_urls_are_stable_within_a_window_and_bound_to_everything():
    from corpchat.services import file_urls

    a = file_urls.sign_url("abc", 7, ttl=3600, now=1_000_000)
    assert a == file_urls.sign_url("abc", 7, ttl=3600, now=1_000_000 + 100)  # the browser cache keeps working
    q = dict(p.split("=", 1) for p in a.split("?", 1)[1].split("&"))
    assert file_urls.check("abc", "", q["u"], q["e"], q["s"], now=1_000_000) == 7
    assert file_urls.check("abc", "", q["u"], q["e"], q["s"], now=int(q["e"]) + 1) is None
    assert file_urls.check("abd", "", q["u"], q["e"], q["s"], now=1_000_000) is None
    assert file_urls.check("abc", "thumb", q["u"], q["e"], q["s"], now=1_000_000) is None
    assert file_urls.check("abc", "", "8", q["e"], q["s"], now=1_000_000) is None
    assert file_urls.check("abc", "", "-7", q["e"], q["s"], now=1_000_000) is None
    assert file_urls.check("abc", "", q["u"], q["e"], None, now=1_000_000) is None


def test_may_view_uses_the_payload_index():
    with db.engine().connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + files._VIEWABLE.text),
                                                    {"fids": ["x", "y"], "uid": 1}))
    assert "ix_messages_payload_file_id" in plan


def test_uploads_never_sent_are_swept_after_their_time(backend):
    """19#5: an upload no message refers to stayed for ever (a closed tab, a script uploading and
    never sending); now it goes after UPLOAD_UNSENT_TTL_HOURS, sent ones and young ones stay."""
    owner = _user()
    old_unsent, old_sent, young = (store_file(owner, [b"z" * 1000], f"{n}.bin") for n in "abc")
    _post(make_group(owner, _user()), owner, old_sent.id)
    with db.session() as s:
        s.execute(text("UPDATE files SET created_at = now() - interval '2 days' WHERE id IN (:a, :b)"),
                  {"a": old_unsent.id, "b": old_sent.id})
    key = files.servable(old_unsent.id).storage_key
    assert files.sweep_unsent(24 * 3600) == 1
    assert files.get(old_unsent.id) is None and files.get(old_sent.id) and files.get(young.id)
    from corpchat.services import storage
    with pytest.raises(storage.MissingObject):
        storage.current().size(key)
    assert files.sweep_unsent(24 * 3600) == 0


def _gps_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (50.0, 27.0, 0.0), 3: "E", 4: (30.0, 31.0, 0.0)})
    return exif


def _stored_bytes(info) -> bytes:
    return b"".join(files.open_file(files.servable(info.id)))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_shared_photos_lose_their_location_but_not_their_pixels(backend, fmt):
    """19#7c: the original kept its EXIF GPS (thumbnails did not)."""
    img = Image.new("RGB", (64, 48), (10, 120, 200))
    img.paste((250, 10, 10), (0, 0, 32, 24))
    buf = io.BytesIO()
    extra = {"pnginfo": None} if fmt != "PNG" else {}
    if fmt == "PNG":
        from PIL import PngImagePlugin
        info = PngImagePlugin.PngInfo()
        info.add_text("Location", "50.45 N, 30.52 E")
        extra = {"pnginfo": info}
    img.save(buf, fmt, exif=_gps_exif().tobytes(), **{k: v for k, v in extra.items() if v is not None})
    raw = buf.getvalue()
    assert b"PhoneMaker" in raw
    stored = _stored_bytes(store_file(_user(), [raw], f"photo.{fmt.lower()}"))
    assert b"PhoneMaker" not in stored and b"50.45 N" not in stored
    with Image.open(io.BytesIO(stored)) as out:
        exif = out.getexif()
        assert 0x8825 not in exif and not exif.get_ifd(0x8825)
        if fmt == "JPEG":
            assert exif.get(0x0112) == 6  # still shown upright
        with Image.open(io.BytesIO(raw)) as before:
            assert out.tobytes() == before.tobytes()  # the same pixels: nothing re-encoded


@pytest.mark.parametrize("progressive", [False, True])
def test_a_jpeg_ends_at_its_end_of_image_without_comments_or_makers_segments(backend, progressive):
    """What phones put around the picture: a comment, makers' APP segments, and after the end of
    the image a second file (a motion photo's MP4 with its own GPS): all gone, the pixels and the
    colour profile kept."""
    from PIL import ImageCms

    img = Image.new("RGB", (64, 48), (10, 120, 200))
    img.paste((250, 10, 10), (0, 0, 32, 24))
    buf = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img.save(buf, "JPEG", comment=b"shot at 50.45 N", icc_profile=icc, progressive=progressive)
    jpeg = buf.getvalue()
    maker = b"\xff\xe9" + (len(b"SecretMaker GPS") + 2).to_bytes(2, "big") + b"SecretMaker GPS"
    trailer = b"\x00\x00\x00\x18ftypmp42....moov gps 50.45 N"
    raw = jpeg[:2] + maker + jpeg[2:] + trailer
    stored = _stored_bytes(store_file(_user(), [raw], "motion.jpg"))
    for secret in (b"50.45 N", b"SecretMaker", b"ftypmp42"):
        assert secret not in stored
    assert stored.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(stored)) as out, Image.open(io.BytesIO(jpeg)) as before:
        assert out.tobytes() == before.tobytes() and out.info.get("icc_profile") == icc


def test_a_photo_without_metadata_is_kept_byte_for_byte(backend):
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(buf, "JPEG")
    info = store_file(_user(), [buf.getvalue()], "plain.jpg")
    assert _stored_bytes(info) == buf.getvalue() and info.size == len(buf.getvalue())
