"""Blocking, visibility and profiles on a real PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from corpchat import db
from corpchat.models import BlockedUser, User
from corpchat.services import blocks, profiles, visibility
from corpchat.services.birthdate import BirthDate
from corpchat.services.errors import Invalid, NotFound
from corpchat.services.events import BlockChanged, Push
from tests.factories import make_group, make_user

TODAY = date(2026, 12, 1)


def block_rows() -> list[tuple[int, int]]:
    with db.session() as s:
        return [tuple(r) for r in s.exec(select(BlockedUser.blocker_id, BlockedUser.blocked_id)).all()]


def user_row(user_id: int) -> User:
    with db.session() as s:
        return s.exec(select(User).where(User.id == user_id)).scalars().one()


# Blocking.

def test_block_unblock_idempotent(db_clean):
    a, b = make_user("alice"), make_user("bob")
    assert blocks.block(a, b) == Push((a, b), BlockChanged(blocker=a, blocked=b, active=True))
    assert blocks.block(a, b) is None
    assert block_rows() == [(a, b)]
    assert [e.user_id for e in blocks.blocked_by_me(a)] == [b]
    assert blocks.blocked_by_me(b) == []  # who blocked you stays private
    assert blocks.unblock(a, b) == Push((a, b), BlockChanged(blocker=a, blocked=b, active=False))
    assert blocks.unblock(a, b) is None
    assert block_rows() == []


def test_mutual_blocks_are_two_rows(db_clean):
    a, b = make_user("alice"), make_user("bob")
    blocks.block(a, b)
    blocks.block(b, a)
    assert sorted(block_rows()) == sorted([(a, b), (b, a)])
    blocks.unblock(a, b)
    with db.session() as s:
        assert visibility.blocked_either_way(s, a, b)  # b's block still holds


def test_block_validation(db_clean):
    a = make_user("alice")
    with pytest.raises(Invalid) as err:
        blocks.block(a, a)
    assert err.value.key == "err.block_self"
    with pytest.raises(NotFound):
        blocks.block(a, a + 1000)
    with pytest.raises(NotFound):
        blocks.unblock(a, a + 1000)
    for bad in ("2", None, True, 0, -1, 2**63, 1.0, [2]):
        with pytest.raises(Invalid):
            blocks.block(a, bad)
    assert block_rows() == []


def test_blocked_by_me_lists_names_in_login_order(db_clean):
    a, c, b = make_user("alice"), make_user("Carol"), make_user("bob")
    with db.session() as s:
        s.execute(update(User).where(User.id == b).values(real_name="Bob Builder"))
    blocks.block(a, c)
    blocks.block(a, b)
    listed = blocks.blocked_by_me(a)
    assert [(e.login, e.name) for e in listed] == [("bob", "Bob Builder"), ("Carol", "Carol")]
    assert all(e.blocked_at is not None for e in listed)


# Visibility.

def test_blocked_set_and_either_way(db_clean):
    a, b, c, d = (make_user(n) for n in ("alice", "bob", "carol", "dave"))
    blocks.block(a, b)
    blocks.block(c, a)
    with db.session() as s:
        assert visibility.blocked_set(s, a) == {b, c}
        assert visibility.blocked_set(s, b) == {a}
        assert visibility.blocked_set(s, d) == set()
        assert visibility.blocked_either_way(s, a, b) and visibility.blocked_either_way(s, b, a)
        assert visibility.blocked_either_way(s, a, c) and visibility.blocked_either_way(s, c, a)
        assert not visibility.blocked_either_way(s, b, c)


def test_presence_watchers_are_room_mates_minus_blocks(db_clean):
    a, b, c, d, e = (make_user(n) for n in ("alice", "bob", "carol", "dave", "erin"))
    make_group(a, b, c)
    make_group(c, a, d)
    make_group(b, e)  # e shares no room with a
    with db.session() as s:
        assert visibility.profile_watchers(s, a) == tuple(sorted([b, c, d]))
    blocks.block(a, b)
    blocks.block(d, a)
    with db.session() as s:
        assert visibility.profile_watchers(s, a) == (c,)
        assert a not in visibility.profile_watchers(s, b)
        assert visibility.profile_watchers(s, e) == (b,)


# Profiles.

def test_profile_fields_and_display_name(db_clean):
    a, b = make_user("alice"), make_user("bob")
    seen = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with db.session() as s:
        s.execute(update(User).where(User.id == b).values(
            bio="hi", gender="male", birth_day=12, birth_month=3, birth_year=1990,
            avatar_id="f" * 32, last_seen_at=seen))
    p = profiles.get_profile(a, b, today=TODAY)
    assert (p.login, p.display_name, p.real_name, p.gender, p.bio) == ("bob", "bob", "", "male", "hi")
    assert p.birth == BirthDate(12, 3, 1990) and p.age == 36
    assert p.avatar_id == "f" * 32 and p.last_seen_at == seen
    assert not p.hidden and not p.blocked_by_me and not p.is_self
    profiles.update_profile(b, real_name="Bob Builder")
    assert profiles.get_profile(a, b).display_name == "Bob Builder"
    assert profiles.get_profile(b, b).is_self


@pytest.mark.parametrize("who_blocks", ["viewer", "owner"])
def test_a_block_either_way_hides_the_private_fields(db_clean, who_blocks):
    a, b = make_user("alice"), make_user("bob")
    with db.session() as s:
        s.execute(update(User).where(User.id == b).values(
            real_name="Bob", bio="secret", gender="male", birth_day=1, birth_month=2, birth_year=2000,
            avatar_id="a" * 32, last_seen_at=datetime.now(UTC)))
    blocks.block(*((a, b) if who_blocks == "viewer" else (b, a)))
    p = profiles.get_profile(a, b)
    assert p.hidden and p.blocked_by_me == (who_blocks == "viewer")
    assert (p.bio, p.birth, p.age, p.avatar_id, p.last_seen_at) == (None, None, None, None, None)
    assert (p.login, p.display_name, p.gender) == ("bob", "Bob", "male")
    own = profiles.get_profile(b, b)  # one's own profile is never hidden
    assert own.bio == "secret" and own.avatar_id == "a" * 32 and not own.hidden


def test_get_profile_unknown_or_bad_id(db_clean):
    a = make_user("alice")
    with pytest.raises(NotFound):
        profiles.get_profile(a, a + 99)
    for bad in ("1", None, 0, [1]):
        with pytest.raises(Invalid):
            profiles.get_profile(a, bad)


def test_update_profile_writes_columns_and_tells_watchers(db_clean):
    a, b, c = make_user("alice"), make_user("bob"), make_user("carol")
    make_group(a, b, c)
    blocks.block(c, a)
    change = profiles.update_profile(a, real_name="  Alice   Liddell ", bio="Team lead\r\nKyiv",
                                     gender="female", birth="12.03", today=TODAY)
    assert change.notify == [a, b]  # carol blocked alice: she is not told
    p = change.profile
    assert (p.real_name, p.bio, p.gender, p.birth, p.age) == ("Alice Liddell", "Team lead\nKyiv", "female",
                                                              BirthDate(12, 3), None)
    row = user_row(a)
    assert (row.birth_day, row.birth_month, row.birth_year) == (12, 3, None)
    profiles.update_profile(a, birth="1.3.1990", today=TODAY)
    assert (user_row(a).birth_year, profiles.get_profile(b, a, today=TODAY).age) == (1990, 36)
    profiles.update_profile(a, birth="")
    row = user_row(a)
    assert (row.birth_day, row.birth_month, row.birth_year, row.real_name) == (None, None, None, "Alice Liddell")
    assert profiles.update_profile(a).notify == []  # nothing changed, nobody told


@pytest.mark.parametrize("kwargs,key", [
    ({"real_name": "x" * 101}, "err.name_too_long"),
    ({"real_name": 5}, "err.name_too_long"),
    ({"real_name": None}, "err.name_too_long"),
    ({"bio": "x" * 1001}, "err.bio_too_long"),
    ({"bio": ["x"]}, "err.bio_too_long"),
    ({"gender": "other"}, "err.bad_request"),
    ({"gender": None}, "err.bad_request"),
    ({"gender": ["male"]}, "err.bad_request"),
    ({"birth": "31.02.2000"}, "err.birth_impossible"),
    ({"birth": "12.03.90"}, "err.birth_two_digit_year"),
    ({"birth": 12}, "err.birth_format"),
    ({"real_name": "ok", "bio": "x" * 1001}, "err.bio_too_long"),
])
def test_update_profile_refuses_bad_fields_and_writes_nothing(db_clean, kwargs, key):
    a = make_user("alice")
    with pytest.raises(Invalid) as err:
        profiles.update_profile(a, **kwargs)
    assert err.value.key == key
    row = user_row(a)
    assert (row.real_name, row.bio, row.gender, row.birth_day) == ("", "", "unspecified", None)


def test_limits_are_inclusive(db_clean):
    a = make_user("alice")
    p = profiles.update_profile(a, real_name="я" * 100, bio="б" * 1000).profile
    assert len(p.real_name) == 100 and len(p.bio) == 1000


@pytest.mark.parametrize("raw,clean", [
    ("\u202eevil\u202c", "evil"),
    ("Bob\u2066 \u2069Admin", "Bob Admin"),
    ("a\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069b", "ab"),
    ("Line\nbreak\ttab\x00nul\x1bESC\x7fdel\x85nel", "Line break tab nul ESC del nel"),
    ("Олена  Петренко", "Олена Петренко"),
    ("👩‍💻 Dev", "👩‍💻 Dev"),  # ZWJ sequences are not controls
    ("\x00\x01", ""),
])
def test_names_lose_controls_and_bidi_overrides(raw, clean):
    assert profiles.clean_name(raw) == clean


def test_bio_keeps_line_breaks_but_not_controls():
    assert profiles.clean_bio("  one\r\n\r\n\r\n\r\ntwo\u202e\x07 ") == "one\n\ntwo"
    assert profiles.clean_bio("a\u2028b") == "a b"


def test_name_limit_counts_after_cleaning():
    assert profiles.clean_name("\u202e" * 50 + "x" * 100) == "x" * 100
    with pytest.raises(Invalid):
        profiles.clean_name("x" * 401)  # raw input cap


def test_update_of_missing_user_is_not_found(db_clean):
    with pytest.raises(NotFound):
        profiles.update_profile(123456, bio="x")



# 19#4: what one user can make the server push to others.

def test_an_opened_chat_without_a_message_makes_nobody_a_contact(db_clean):
    from corpchat.services import rooms
    from corpchat.services.messages import send_sync

    a, b, c = make_user("alice"), make_user("bob"), make_user("carol")
    for other in (b, c):
        rooms.open_private(a, other)
    assert profiles.update_profile(a, real_name="Alice").notify == [a]
    send_sync(c, rooms.open_private(c, a), "hi", "cid-contact-1")
    assert profiles.update_profile(a, real_name="Alice L").notify == [a, c]
    with db.session() as s:
        assert visibility.presence_watchers(s, a) == (c,)


def test_saving_an_unchanged_profile_tells_nobody(db_clean):
    a, b = make_user("alice"), make_user("bob")
    make_group(a, b)
    assert profiles.update_profile(a, real_name="Alice", bio="hi").push is not None
    assert profiles.update_profile(a, real_name="Alice", bio="hi").push is None


@pytest.mark.parametrize("action,call", [
    ("profile", lambda a, b: profiles.update_profile(a, real_name=f"n{secrets.token_hex(3)}")),
    ("profile", lambda a, b: (blocks.block(a, b), blocks.unblock(a, b))),
    ("open_chat", lambda a, b: __import__("corpchat.services.rooms", fromlist=["x"]).open_private(a, b)),
])
def test_changes_pushed_to_contacts_and_opening_chats_are_rate_limited(db_clean, monkeypatch, action, call):
    from corpchat.services import rate_limits
    from corpchat.services.errors import Throttled
    from corpchat.services.rate_limits import TokenBucket

    monkeypatch.setitem(rate_limits._LIMITS, action, TokenBucket(burst=3, per_minute=1))
    a, b = make_user("alice"), make_user("bob")
    refused = 0
    for _ in range(6):
        try:
            call(a, b)
        except Throttled as exc:
            assert exc.key == "err.too_fast"
            refused += 1
    assert refused >= 3
