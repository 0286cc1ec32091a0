"""Presence (issue 13): the first/last tab edges on PostgreSQL, who is told, throttled writes,
what a viewer may see of others, and the lifecycle's `online` query on both stores."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from corpchat import db
from corpchat.models import User
from corpchat.realtime.lifecycle import Lifecycle
from corpchat.services import blocks, presence, rooms
from corpchat.services.events import PresenceChanged, Push
from corpchat.services.messages import send_sync
from tests.factories import make_group, make_user
from tests.unit.test_blocks_profiles import user_row
from tests.unit.test_lifecycle import GRACE, Clock, store_factory  # noqa: F401  (fixture)


def _set_seen(user_id: int, when: datetime | None) -> None:
    with db.session() as s:
        s.exec(update(User).where(User.id == user_id).values(last_seen_at=when))


def test_online_and_offline_go_to_the_watchers_only(db_clean):
    a, b, c, d, e = (make_user(n) for n in ("alice", "bob", "carol", "dave", "eve"))
    for other in (b, c):  # private-chat partners watch; a group co-member (eve) does not, yet
        send_sync(a, rooms.open_private(a, other), "hi", secrets.token_hex(8))
    rooms.open_private(d, a)  # an opened chat with no message in it makes nobody a watcher (19#4)
    make_group(a, e)
    with db.session() as s:
        s.exec(update(User).where(User.id == a).values(gender="female"))
    blocks.block(c, a)  # carol blocked alice: neither sees the other's presence
    assert presence.went_online(a) == Push((b,), PresenceChanged(user_id=a, online=True, gender="female"))
    gone = presence.went_offline(a)
    assert gone.audience == (b,) and d not in gone.audience and e not in gone.audience
    assert gone.event.online is False and gone.event.gender == "female"
    assert datetime.fromisoformat(gone.event.last_seen) == user_row(a).last_seen_at


def test_first_tab_writes_only_when_the_stored_moment_is_old(db_clean):
    a = make_user("alice")
    presence.went_online(a)
    first = user_row(a).last_seen_at
    assert first is not None
    presence.went_online(a)  # a flapping connection: no new write
    assert user_row(a).last_seen_at == first
    old = datetime.now(UTC) - timedelta(seconds=presence.SEEN_REFRESH_SECONDS + 60)
    _set_seen(a, old)
    presence.went_online(a)
    assert user_row(a).last_seen_at > old
    presence.went_offline(a)  # the last tab always writes: that moment is "last seen"
    assert user_row(a).last_seen_at >= first


def test_people_views_leave_out_blocked_either_way(db_clean):
    a, b, c, d = (make_user(n) for n in ("alice", "bob", "carol", "dave"))
    _set_seen(b, datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    blocks.block(a, c)
    blocks.block(d, a)
    views = presence.people_views(a, [a, b, c, d, 10**9, "x", -1])
    assert set(views) == {a, b}  # both blocked directions, unknown and malformed ids: out
    assert views[b].last_seen_at == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert set(presence.people_views(c, [a, b])) == {b}
    assert presence.people_views(a, []) == {}


def test_block_state_says_both_directions_and_mine(db_clean):
    a, b, c = make_user("alice"), make_user("bob"), make_user("carol")
    blocks.block(a, b)
    blocks.block(c, a)
    assert blocks.block_state(a) == ({b, c}, {b})
    assert blocks.block_state(b) == ({a}, set())


async def test_online_counts_open_tabs_and_the_grace(store_factory):  # noqa: F811
    clock = Clock()
    store = store_factory()
    life = Lifecycle(store, clock=clock, grace=GRACE)
    await life.tab_opened(7, "a")
    assert await store.online([7, 8]) == {7}
    await life.socket_closed("a")
    assert await store.online([7]) == {7}  # a reload within the grace is no offline flicker
    clock.now += GRACE + 1
    await life.sweep()
    assert await store.online([7, 8]) == set()
    assert await store.online([]) == set()
