"""The avatar route: immutable caching, ETag, nosniff, 404 for anything unknown."""

from __future__ import annotations

import dataclasses
import io
import warnings

import pytest
from PIL import Image
from starlette.applications import Starlette

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; the pinned httpx still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from corpchat.api.avatars import routes
from corpchat.services import avatars
from tests.factories import make_user


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setattr(avatars, "settings", dataclasses.replace(avatars.settings, avatar_dir=tmp_path))
    return TestClient(Starlette(routes=routes))


def upload(user_id: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (100, 100), (0, 128, 0)).save(buf, "PNG")
    return avatars.upload_avatar(user_id, buf.getvalue()).current_id


def test_serves_both_sizes_with_immutable_caching(db_clean, client):
    aid = upload(make_user("alice"))
    for size in (512, 64):
        r = client.get(f"/api/avatar/{aid}/{size}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/webp"
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["etag"] == f'"{aid}-{size}"'
        assert "content-disposition" not in r.headers
        assert Image.open(io.BytesIO(r.content)).size == (size, size)


def test_if_none_match_gives_304(db_clean, client):
    aid = upload(make_user("alice"))
    r = client.get(f"/api/avatar/{aid}/64", headers={"If-None-Match": f'"{aid}-64"'})
    assert r.status_code == 304 and r.content == b""
    assert client.get(f"/api/avatar/{aid}/64", headers={"If-None-Match": '"other"'}).status_code == 200


def test_head(db_clean, client):
    aid = upload(make_user("alice"))
    r = client.head(f"/api/avatar/{aid}/512")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"


@pytest.mark.parametrize("path", [
    "/api/avatar/{zero}/512", "/api/avatar/{aid}/128", "/api/avatar/{aid}/0512", "/api/avatar/{aid}/x",
    "/api/avatar/{upper}/512", "/api/avatar/{aid}.webp/512", "/api/avatar/{aid}%00/512",
    "/api/avatar/{aid}/%EF%BC%95%EF%BC%91%EF%BC%92",  # fullwidth "512"
])
def test_unknown_or_malformed_is_404(db_clean, client, path):
    aid = upload(make_user("alice"))
    r = client.get(path.format(aid=aid, zero="0" * 32, upper=aid.upper()))
    assert r.status_code == 404
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "immutable" not in r.headers.get("cache-control", "")


def test_path_traversal_matches_nothing(db_clean, client):
    upload(make_user("alice"))
    assert client.get("/api/avatar/..%2F..%2Fetc%2Fpasswd/512").status_code == 404
    assert client.get("/api/avatar/../../../etc/passwd/512").status_code == 404


def test_deleted_avatar_is_gone(db_clean, client):
    alice = make_user("alice")
    aid = upload(alice)
    avatars.delete_avatar(alice, aid)
    assert client.get(f"/api/avatar/{aid}/512").status_code == 404


def test_post_is_not_allowed(db_clean, client):
    aid = upload(make_user("alice"))
    assert client.post(f"/api/avatar/{aid}/512").status_code == 405
