"""The avatar route: signed-in viewers only, hidden across a block and once deleted (19#7a),
a short private cache with ETag revalidation, nosniff, 404 for anything unknown."""

from __future__ import annotations

import dataclasses
import io
import warnings

import pytest
from PIL import Image
from starlette.applications import Starlette

from corpchat import db
from corpchat.models import User

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; the pinned httpx still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from corpchat.api.avatars import routes
from corpchat.config import settings
from corpchat.services import accounts, avatars, blocks, storage
from tests.factories import make_user


def _cookie(user_id: int) -> dict:
    with db.session() as s:
        version = s.get(User, user_id).session_version
    token = accounts.issue_token(accounts.Identity(user_id, "x", version))
    return {settings.cookie_name: token}


@pytest.fixture
def viewer_client(tmp_path, monkeypatch):
    """A client signed in as the given user."""
    monkeypatch.setattr(avatars, "settings", dataclasses.replace(avatars.settings, avatar_dir=tmp_path / "legacy"))
    monkeypatch.setattr(storage, "_current", storage.LocalStorage(tmp_path / "files"))
    clients = []

    def make(user_id: int) -> TestClient:
        # Entered: one event loop for all of the client's requests, and the app's lifespan
        # closes that loop's async pool. A bare TestClient made a loop per request and left
        # each one's pool connecting in the background (a test run once hung on it).
        client = TestClient(Starlette(routes=routes, lifespan=db.lifespan), cookies=_cookie(user_id))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(viewer_client):
    return viewer_client(make_user("viewer"))


def upload(user_id: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (100, 100), (0, 128, 0)).save(buf, "PNG")
    return avatars.upload_avatar(user_id, buf.getvalue()).current_id


def test_serves_both_sizes_with_a_short_private_cache(db_clean, client):
    aid = upload(make_user("alice"))
    for size in (512, 64):
        r = client.get(f"/api/avatar/{aid}/{size}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/webp"
        assert r.headers["cache-control"] == "private, max-age=300"
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


def test_deleted_avatar_is_gone_and_not_cached(db_clean, client):
    alice = make_user("alice")
    aid = upload(alice)
    assert "immutable" not in client.get(f"/api/avatar/{aid}/512").headers["cache-control"]
    avatars.delete_avatar(alice, aid)
    r = client.get(f"/api/avatar/{aid}/512", headers={"If-None-Match": f'"{aid}-512"'})
    assert r.status_code == 404 and r.headers["cache-control"] == "no-store"


def test_post_is_not_allowed(db_clean, client):
    aid = upload(make_user("alice"))
    assert client.post(f"/api/avatar/{aid}/512").status_code == 405


def test_a_block_either_way_hides_the_avatar(db_clean, viewer_client):
    """Before: an id seen once stayed downloadable after a block."""
    alice, bob = make_user("alice"), make_user("bob")
    aid = upload(alice)
    as_bob = viewer_client(bob)
    assert as_bob.get(f"/api/avatar/{aid}/64").status_code == 200
    for blocker, blocked in ((alice, bob), (bob, alice)):
        blocks.block(blocker, blocked)
        r = as_bob.get(f"/api/avatar/{aid}/64", headers={"If-None-Match": f'"{aid}-64"'})
        assert r.status_code == 404 and r.headers["cache-control"] == "no-store"
        blocks.unblock(blocker, blocked)
    assert as_bob.get(f"/api/avatar/{aid}/64").status_code == 200
    assert viewer_client(alice).get(f"/api/avatar/{aid}/64").status_code == 200  # her own


def test_without_a_live_session_nothing_is_served(db_clean, viewer_client, client):
    aid = upload(make_user("alice"))
    anonymous = TestClient(Starlette(routes=routes))
    assert anonymous.get(f"/api/avatar/{aid}/64").status_code == 404
    carol = make_user("carol")
    as_carol = viewer_client(carol)
    accounts.logout(carol)  # every token issued so far is revoked
    assert as_carol.get(f"/api/avatar/{aid}/64").status_code == 404
