"""POST /api/avatar: the session cookie and the Origin are checked, the body is read only up to
the limit, non-images are refused with a localised message, and a good upload is pushed."""

from __future__ import annotations

import dataclasses
import io
import warnings

import pytest
from PIL import Image
from starlette.applications import Starlette

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from corpchat.api import avatar_upload
from corpchat.config import settings
from corpchat.services import accounts, avatars, storage
from corpchat.services.events import AvatarChanged
from tests.factories import make_group, make_user

ORIGIN = {"Origin": settings.app_origins[0]}


@pytest.fixture
def client(tmp_path, monkeypatch):
    small = dataclasses.replace(avatars.settings, avatar_dir=tmp_path / "legacy", avatar_max_bytes=200_000)
    monkeypatch.setattr(avatars, "settings", small)
    monkeypatch.setattr(storage, "_current", storage.LocalStorage(tmp_path / "files"))
    monkeypatch.setattr(avatar_upload, "settings", dataclasses.replace(settings, avatar_max_bytes=200_000))
    pushed = []

    async def push(p, **_):
        pushed.append(p)

    monkeypatch.setattr(avatar_upload.hub, "push", push)
    c = TestClient(Starlette(routes=avatar_upload.routes))
    c.pushed = pushed
    return c


def cookie(user_id: int) -> dict:
    token = accounts.issue_token(accounts.Identity(user_id, "x", 1))
    return {"Cookie": f"{settings.cookie_name}={token}"}


def png(side: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def test_upload_stores_and_pushes_to_the_watchers(db_clean, client):
    a, b = make_user("alice"), make_user("bob")
    make_group(a, b)
    r = client.post("/api/avatar", content=png(), headers={**ORIGIN, **cookie(a)})
    assert r.status_code == 200, r.text
    aid = r.json()["avatar_id"]
    assert [x.id for x in avatars.gallery(a)] == [aid]
    (push,) = client.pushed
    assert push.audience == (a, b) and push.event == AvatarChanged(user_id=a, avatar_id=aid)


def test_refusals(db_clean, client):
    a = make_user("alice")
    assert client.post("/api/avatar", content=png(), headers=ORIGIN).status_code == 401
    assert client.post("/api/avatar", content=png(),
                       headers={**ORIGIN, "Cookie": f"{settings.cookie_name}=forged"}).status_code == 401
    assert client.post("/api/avatar", content=png(),
                       headers={"Origin": "http://evil.example", **cookie(a)}).status_code == 403
    r = client.post("/api/avatar", content=b"not an image at all", headers={**ORIGIN, **cookie(a),
                                                                             "Accept-Language": "uk"})
    assert r.status_code == 400 and r.json()["error"] == "err.avatar_not_image"
    assert "PNG" in r.json()["message"] and r.json()["message"] != "err.avatar_not_image"
    big = b"\0" * 300_000
    r = client.post("/api/avatar", content=big, headers={**ORIGIN, **cookie(a)})
    assert r.status_code == 413 and r.json()["error"] == "err.avatar_too_large"

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b"\0" * 50_000

    r = client.post("/api/avatar", content=chunks(), headers={**ORIGIN, **cookie(a)})
    assert r.status_code == 413
    assert avatars.gallery(a) == [] and client.pushed == []


def test_the_crop_box_travels_in_the_query_and_the_server_crops(db_clean, client):
    """The page sends the untouched image and the box Python holds (issue 21)."""
    a = make_user("alice")
    out = io.BytesIO()
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))  # right half blue
    image.save(out, "PNG")
    r = client.post("/api/avatar?x=120&y=10&w=60&h=60", content=out.getvalue(), headers={**ORIGIN, **cookie(a)})
    assert r.status_code == 200, r.text
    stored = Image.open(io.BytesIO(avatars.read_image(r.json()["avatar_id"], 64))).convert("RGB")
    red, _, blue = stored.getpixel((32, 32))
    assert blue > 200 and red < 50  # the box on the blue half, not the centre square
    for bad in ("x=1&y=2&w=3", "x=-1&y=0&w=10&h=10", "x=a&y=0&w=10&h=10", "x=1e3&y=0&w=10&h=10",
                "x=0&y=0&w=99999999&h=10", "x=150&y=150&w=10&h=10"):
        r = client.post(f"/api/avatar?{bad}", content=png(), headers={**ORIGIN, **cookie(a)})
        assert r.status_code == 400 and r.json()["error"] == "err.avatar_crop", (bad, r.text)
    assert len(avatars.gallery(a)) == 1


def test_group_photo_route_owner_and_admins_only(db_clean, client):
    """POST /api/group-avatar/<id>: the same checks, then the group's role; refusals change nothing."""
    from corpchat.services.events import GroupAvatarChanged
    owner, member, stranger = make_user("olga"), make_user("mira"), make_user("ostap")
    room = make_group(owner, member, name="Team")
    r = client.post(f"/api/group-avatar/{room}", content=png(), headers={**ORIGIN, **cookie(member)})
    assert r.status_code == 403 and r.json()["error"] == "err.forbidden"
    for who, target in ((stranger, str(room)), (owner, "99999999"), (owner, "abc"), (owner, "1" * 30)):
        r = client.post(f"/api/group-avatar/{target}", content=png(), headers={**ORIGIN, **cookie(who)})
        assert r.status_code in (400, 404), (target, r.text)
    evil = {"Origin": "https://evil.example"}
    r = client.post(f"/api/group-avatar/{room}", content=png(), headers={**evil, **cookie(owner)})
    assert r.status_code == 403
    r = client.post(f"/api/group-avatar/{room}", content=b"GIF89a not really", headers={**ORIGIN, **cookie(owner)})
    assert r.status_code == 400 and r.json()["error"] == "err.avatar_not_image"
    assert client.pushed == []
    r = client.post(f"/api/group-avatar/{room}?x=0&y=0&w=64&h=64", content=png(), headers={**ORIGIN, **cookie(owner)})
    assert r.status_code == 200, r.text
    told = [p.event for p in client.pushed if isinstance(p.event, GroupAvatarChanged)]
    assert told == [GroupAvatarChanged(room, avatar_id=r.json()["avatar_id"])]
