"""Upload and serving routes, in-process on the real database, against both storage backends."""

from __future__ import annotations

import dataclasses
import os
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from corpchat import config, db
from corpchat.api import media, uploads
from corpchat.models import Message, Room, UploadedFile
from corpchat.services import accounts, file_urls, files
from tests import media_samples
from tests.factories import make_group, make_user

MB = 1024 * 1024
ORIGIN = config.settings.app_origins[0]  # what the upload route accepts as same-origin


def _app() -> Starlette:
    return Starlette(routes=media.routes + uploads.routes)


def _user() -> tuple[int, dict]:
    login = "m" + secrets.token_hex(6)
    uid = make_user(login)
    token = accounts.issue_token(accounts.Identity(uid, login, 1))
    return uid, {config.settings.cookie_name: token}


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url=ORIGIN) as c:
        yield c


async def _upload(client, cookies, data, name="file.bin", **kw):
    """Upload as this user, who then stays signed in on the client (media links need the session)."""
    client.cookies.clear()
    client.cookies.update(cookies)
    return await client.post("/api/upload", params={"name": name}, content=data,
                             headers={"Origin": ORIGIN, **kw.pop("headers", {})}, **kw)


def _share(owner: int, member: int, file_id: str) -> int:
    room = make_group(owner, member)
    with db.session() as s:
        r = s.get(Room, room)
        r.last_seq += 1
        s.add(Message(room_id=room, seq=r.last_seq, sender_id=owner, kind="file", payload={"file_id": file_id}))
    return room


async def test_upload_needs_login_and_same_origin(client, backend):
    _, cookies = _user()
    assert (await client.post("/api/upload", content=b"x", headers={"Origin": ORIGIN})).status_code == 401
    bad = await client.post("/api/upload", content=b"x", cookies=cookies, headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403
    forged = await client.post("/api/upload", content=b"x", headers={"Origin": ORIGIN},
                               cookies={config.settings.cookie_name: "not-a-token"})
    assert forged.status_code == 401


async def test_upload_image_then_serve_inline_with_thumbnail(client, backend):
    uid, cookies = _user()
    data = media_samples.image("PNG", (900, 500))
    resp = await _upload(client, cookies, data, "Фото 1.png", headers={"Content-Type": "text/html"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["name"], body["size"], body["mime"], body["kind"], body["width"], body["thumb"]) == (
        "Фото 1.png", len(data), "image/png", "image", 900, True)
    got = await client.get(body["url"])
    assert got.status_code == 200 and got.content == data
    h = got.headers
    assert h["content-type"] == "image/png" and h["x-content-type-options"] == "nosniff"
    assert h["content-disposition"] == (
        "inline; filename=\"____ 1.png\"; filename*=UTF-8''%D0%A4%D0%BE%D1%82%D0%BE%201.png")
    assert h["accept-ranges"] == "bytes" and "sandbox" in h["content-security-policy"]
    thumb = await client.get(body["thumb_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert thumb.content[:4] == b"RIFF"
    dl = await client.get(body["url"] + "&dl=1")
    assert dl.headers["content-disposition"].startswith("attachment;")
    assert dl.headers["content-type"] == "application/octet-stream"


async def test_range_requests(client, backend):
    uid, cookies = _user()
    data = os.urandom(1000)
    url = (await _upload(client, cookies, data)).json()["url"]
    r = await client.get(url, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == data[:10]
    assert r.headers["content-range"] == "bytes 0-9/1000" and r.headers["content-length"] == "10"
    assert (await client.get(url, headers={"Range": "bytes=990-"})).content == data[990:]
    assert (await client.get(url, headers={"Range": "bytes=-5"})).content == data[-5:]
    assert (await client.get(url, headers={"Range": "bytes=900-5000"})).content == data[900:]
    # a 5,000-digit offset once gave a 500 with a traceback (Python's int() digit limit)
    assert (await client.get(url, headers={"Range": "bytes=0-" + "9" * 5000})).content == data
    assert (await client.get(url, headers={"Range": "bytes=-" + "9" * 5000})).content == data
    assert (await client.get(url, headers={"Range": "bytes=" + "0" * 4999 + "1-2"})).content == data[1:3]
    for bad in ("bytes=1000-", "bytes=5-2", "bytes=abc", "bytes=-0", "bytes=-", "bytes=" + "9" * 5000 + "-"):
        r = await client.get(url, headers={"Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["content-range"] == "bytes */1000"
    assert (await client.get(url, headers={"Range": "bytes=0-1,5-6"})).status_code == 200
    assert (await client.get(url, headers={"Range": "items=0-1"})).status_code == 200
    etag = (await client.get(url)).headers["etag"]
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
    r = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert r.status_code == 200 and len(r.content) == 1000
    head = await client.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == "1000" and head.content == b""


async def test_refused_urls(client, backend):
    owner, cookies = _user()
    member, member_cookies = _user()
    stranger, stranger_cookies = _user()
    fid = (await _upload(client, cookies, b"secret bytes")).json()["file_id"]

    async def status(url, as_=member_cookies):
        client.cookies.clear()
        client.cookies.update(as_)
        return (await client.get(url)).status_code

    # A member of a room where the file was posted may view; before that, not even with a signed URL.
    assert await status(file_urls.sign_url(fid, member)) == 403
    _share(owner, member, fid)
    assert await status(file_urls.sign_url(fid, member)) == 200
    assert await status(file_urls.sign_url(fid, stranger), stranger_cookies) == 403
    # 19#7b: a signed link is not a bearer token: it needs its viewer's own live session.
    link = file_urls.sign_url(fid, member)
    assert await status(link, {}) == 403                                      # no session (copied out)
    assert await status(link, stranger_cookies) == 403                        # someone else's session
    assert await status(link, cookies) == 403                                 # even the owner's
    good = file_urls.sign_url(fid, member)
    parts = urlsplit(good)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered = [
        f"{parts.path}?u={owner}&e={q['e']}&s={q['s']}",                         # someone else's id
        f"{parts.path}?u={member}&e={int(q['e']) + 600}&s={q['s']}",             # extended expiry
        f"{parts.path}?u={member}&e={q['e']}&s={q['s'][:-2]}AA",                 # forged signature
        f"{parts.path}?u={member}&e={q['e']}",                                   # unsigned
        f"{parts.path}x?{parts.query}",                                          # another id
        f"/api/media/{secrets.token_urlsafe(16)}?{parts.query}",                 # guessed id
        f"{parts.path}/thumb?{parts.query}",                                     # other variant
        f"{parts.path}/../../etc/passwd?{parts.query}",
        file_urls.sign_url(fid, member, ttl=-1),                                 # expired
    ]
    for url in tampered:
        assert await status(url) in (403, 404), url
    assert await status(tampered[0]) == 403 and await status(tampered[-1]) == 403
    accounts.logout(member)  # every session of the member revoked: the link opens nothing now
    assert await status(good) == 403


@pytest.mark.parametrize("data, name", [
    (b"<html><script>alert(document.cookie)</script></html>", "cat.png"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg"),
    (b"alert(1)", "app.js"),
    (media_samples.png_bomb(), "bomb.png"),
])
async def test_active_content_only_as_sandboxed_attachment(client, backend, data, name):
    _, cookies = _user()
    body = (await _upload(client, cookies, data, name)).json()
    assert body["kind"] == "file" and body["thumb"] is False
    r = await client.get(body["url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_hostile_names_sanitised(client, backend):
    _, cookies = _user()
    body = (await _upload(client, cookies, b"x", "../../x\u202egpj.exe")).json()
    assert body["name"] == "xgpj.exe"
    body = (await _upload(client, cookies, b"x", None, headers={"X-File-Name": "..%2F..%2Fa%00b%22.txt"})).json()
    assert body["name"] == "ab_.txt"
    r = await client.get(body["url"])
    assert r.headers["content-disposition"] == "attachment; filename=\"ab_.txt\"; filename*=UTF-8''ab_.txt"


async def test_oversize_refused_while_reading(client, backend, monkeypatch):
    monkeypatch.setattr(config, "settings", dataclasses.replace(config.settings, max_upload_bytes=MB))
    uid, cookies = _user()
    r = await _upload(client, cookies, b"x" * (2 * MB))
    assert r.status_code == 413 and r.json() == {"error": "file_too_large", "max_bytes": MB}
    read = []

    async def endless():  # no Content-Length: refused once past the cap, not at the end
        for _ in range(100):
            read.append(1)
            yield b"y" * (256 * 1024)

    r = await _upload(client, cookies, endless())
    assert r.status_code == 413 and len(read) <= 6
    assert files.used_bytes(uid) == 0
    assert not [n for n in os.listdir(backend.tmp_dir()) if n.startswith("up-")]
    assert (await _upload(client, cookies, b"z" * MB)).status_code == 201


async def test_quota_through_route(client, backend, monkeypatch):
    monkeypatch.setattr(config, "settings", dataclasses.replace(config.settings, user_quota_bytes=MB))
    uid, cookies = _user()
    assert (await _upload(client, cookies, b"a" * (MB // 2))).status_code == 201
    r = await _upload(client, cookies, b"b" * (MB // 2 + 1))
    assert r.status_code == 413 and r.json()["error"] == "quota_exceeded"
    with db.session() as s:
        assert len(s.exec(select(UploadedFile).where(UploadedFile.owner_id == uid)).all()) == 1


async def test_discard_only_own_unsent_uploads(client, backend):
    owner, cookies = _user()
    member, member_cookies = _user()
    body = (await _upload(client, cookies, media_samples.image("PNG"), "a.png")).json()
    sent = (await _upload(client, cookies, b"sent")).json()
    _share(owner, member, sent["file_id"])

    async def delete(file_id, who):
        client.cookies.clear()
        return (await client.delete(f"/api/upload/{file_id}", cookies=who, headers={"Origin": ORIGIN})).status_code

    assert await delete(body["file_id"], member_cookies) == 404
    assert await delete(sent["file_id"], cookies) == 404
    assert await delete(body["file_id"], cookies) == 204
    assert files.get(body["file_id"]) is None
    assert (await client.get(body["url"])).status_code == 403
    assert await delete(body["file_id"], cookies) == 404


def test_sweep_tmp_removes_only_stale_parts(backend):
    stale = os.path.join(backend.tmp_dir(), "up-stale.part")
    fresh = backend.begin(10)
    open(stale, "wb").close()
    os.utime(stale, (0, 0))
    assert backend.sweep_tmp() >= 1
    assert not os.path.exists(stale) and fresh.path.exists()
    fresh.abort()
