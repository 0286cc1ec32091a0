"""The calls service on a real PostgreSQL (issue 23): who may call whom, the lifecycle, busy, the
ring timeout, peer ids, and the system message each call leaves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from corpchat import db, system_views
from corpchat.services import calls, group_calls, ice, rooms
from corpchat.services.errors import Conflict, Forbidden, Invalid, NotFound
from corpchat.services.events import (
    CallAccepted,
    CallEnded,
    CallMediaChanged,
    CallRinging,
    GroupCallChanged,
    MessageSent,
)
from tests.factories import block, make_group, make_user


@pytest.fixture(autouse=True)
def fresh_call_limit(monkeypatch):
    """User ids restart with every test: one test's calls must not use up the next one's."""
    from corpchat.services import rate_limits

    monkeypatch.setitem(rate_limits._LIMITS, "call", rate_limits.TokenBucket(5, 10))


@pytest.fixture
def pair(db_clean):
    anna, boris, carl = make_user("anna"), make_user("boris"), make_user("carl")
    return anna, boris, carl, rooms.open_private(anna, boris)


def _system(room: int) -> list[dict]:
    with db.session() as s:
        return [r[0] for r in s.exec(text("SELECT payload FROM messages WHERE room_id = :r AND kind = 'system' "
                                          "ORDER BY seq"), params={"r": room})]


def _call(call_id: int):
    with db.session() as s:
        return s.exec(text("SELECT state, outcome FROM calls WHERE id = :c"), params={"c": call_id}).one()


def test_ring_accept_hang_up_records_the_duration(pair):
    anna, boris, _, room = pair
    seat = calls.start(anna, room, "video")
    assert seat.peer_id.startswith("cc") and len(seat.peer_token) >= 24 and seat.remote_peers == ()
    (ring,) = seat.pushes
    assert ring.audience == (boris,) and ring.event == CallRinging(room, call_id=seat.call_id, caller_id=anna,
                                                                   kind="video", caller_name="anna")
    assert calls.live_call(boris) == {"call_id": seat.call_id, "room_id": room, "kind": "video",
                                      "caller_id": anna, "caller_name": "anna", "ringing": True}
    joined = calls.accept(boris, seat.call_id)
    assert joined.remote_peers == (seat.peer_id,) and joined.peer_id != seat.peer_id
    assert joined.pushes[0].event == CallAccepted(room, call_id=seat.call_id, user_id=boris)
    assert set(joined.pushes[0].audience) == {anna, boris}
    assert calls.call_peers(seat.call_id) == {seat.peer_id, joined.peer_id}
    p = calls.peer(joined.peer_id)
    assert (p.user_id, p.call_id, p.token, p.live) == (boris, seat.call_id, joined.peer_token, True)
    with db.session() as s:  # a call of 65 seconds
        s.exec(text("UPDATE calls SET answered_at = answered_at - interval '65 seconds' WHERE id = :c"),
               params={"c": seat.call_id})
    ended, note = calls.hang_up(boris, seat.call_id)
    assert ended.event == CallEnded(room, call_id=seat.call_id, outcome="answered")
    assert isinstance(note.event, MessageSent) and set(note.audience) == {anna, boris}
    assert _call(seat.call_id) == ("ended", "answered")
    (payload,) = _system(room)
    assert payload["action"] == "call_ended" and payload["actor"] == anna and payload["new"] in ("1:05", "1:06")
    assert system_views.system_text({**payload, "names": {str(anna): "Anna"}, "gender": "female"}, "uk") \
        .startswith("Anna дзвонила · 1:0")
    assert calls.call_peers(seat.call_id) == set() and not calls.peer(seat.peer_id).live
    assert calls.hang_up(anna, seat.call_id) == []  # over already: nothing twice
    assert len(_system(room)) == 1


def test_decline_and_cancel_leave_their_record(pair):
    anna, boris, _, room = pair
    seat = calls.start(anna, room, "voice")
    ended, _ = calls.decline(boris, seat.call_id)
    assert ended.event.outcome == "declined" and _system(room)[-1]["action"] == "call_declined"
    assert _system(room)[-1]["actor"] == boris
    seat = calls.start(anna, room, "voice")
    ended, _ = calls.hang_up(anna, seat.call_id)  # the caller gave up before an answer
    assert ended.event.outcome == "missed" and _system(room)[-1]["action"] == "call_missed"
    with pytest.raises(Conflict):
        calls.accept(boris, seat.call_id)


def test_busy_when_the_callee_is_in_a_call(pair):
    anna, boris, carl, room = pair
    calls.start(carl, rooms.open_private(carl, boris), "video")
    with pytest.raises(Conflict) as err:
        calls.start(anna, room, "video")
    assert err.value.key == "err.call_busy"
    with db.session() as s:  # refused: nothing written
        assert s.exec(text("SELECT count(*) FROM calls WHERE room_id = :r"), params={"r": room}).scalar() == 0


def test_unanswered_ring_times_out_as_missed(pair):
    anna, boris, _, room = pair
    seat = calls.start(anna, room, "video")
    assert calls.expire(seat.call_id) == []  # not yet
    with db.session() as s:
        s.exec(text("UPDATE calls SET created_at = created_at - :d WHERE id = :c"),
               params={"d": timedelta(seconds=46), "c": seat.call_id})
    assert calls.live_call(boris) is None
    late = calls.accept(boris, seat.call_id)
    assert late.peer_id == "" and late.pushes[0].event.outcome == "missed"
    assert _call(seat.call_id) == ("ended", "missed") and _system(room)[-1]["action"] == "call_missed"
    calls.start(anna, room, "video")  # the overdue ring does not leave anyone busy


def test_an_overdue_ring_elsewhere_does_not_make_the_callee_busy(pair):
    anna, boris, carl, room = pair
    old = calls.start(carl, rooms.open_private(carl, boris), "video")
    with db.session() as s:  # its timeout task never ran (the server restarted)
        s.exec(text("UPDATE calls SET created_at = created_at - interval '60 seconds' WHERE id = :c"),
               params={"c": old.call_id})
    seat = calls.start(anna, room, "video")
    assert [type(p.event) for p in seat.pushes] == [CallEnded, MessageSent, CallRinging]
    assert _call(old.call_id) == ("ended", "missed")


def test_who_may_call_whom(pair):
    anna, boris, carl, room = pair
    with pytest.raises(NotFound):
        calls.start(carl, room, "video")  # not a member
    with pytest.raises(Invalid):
        calls.start(anna, room, "fax")
    seat = calls.start(anna, room, "video")
    with pytest.raises(NotFound):
        calls.accept(carl, seat.call_id)
    with pytest.raises(NotFound):
        calls.hang_up(carl, seat.call_id)
    with pytest.raises(Conflict):
        calls.accept(anna, seat.call_id)  # the caller cannot answer for the callee
    calls.hang_up(anna, seat.call_id)
    block(boris, anna)
    with pytest.raises(Forbidden) as err:
        calls.start(anna, room, "video")
    assert err.value.key == "err.call_blocked"
    with pytest.raises(Forbidden):
        calls.start(boris, room, "video")  # either way


def test_a_block_during_a_call_ends_it(pair):
    anna, boris, _, room = pair
    seat = calls.start(anna, room, "video")
    calls.accept(boris, seat.call_id)
    ended, _ = calls.end_between(boris, anna)
    assert ended.event.outcome == "answered" and _call(seat.call_id)[0] == "ended"


def test_camera_and_microphone_are_told_to_the_others(pair):
    anna, boris, carl, room = pair
    seat = calls.start(anna, room, "video")
    calls.accept(boris, seat.call_id)
    told = calls.set_media(anna, seat.call_id, False, False)
    assert told.audience == (boris,) and told.event == CallMediaChanged(room, call_id=seat.call_id, user_id=anna,
                                                                        mic=False, camera=False)
    with pytest.raises(Invalid):
        calls.set_media(anna, seat.call_id, "no", False)
    with pytest.raises(NotFound):
        calls.set_media(carl, seat.call_id, True, True)


def test_the_last_tab_gone_leaves_the_call(pair):
    anna, boris, _, room = pair
    seat = calls.start(anna, room, "video")
    assert calls.leave_all(boris) == []  # rings on until missed: Boris may open a tab in time
    calls.accept(boris, seat.call_id)
    ended, note = calls.leave_all(anna)
    assert ended.event.outcome == "answered" and note.event.message["payload"]["action"] == "call_ended"
    assert calls.live_call(boris) is None


def test_group_call_up_to_six(db_clean):
    people = [make_user(f"user{i}") for i in range(8)]
    room = make_group(people[0], *people[1:])
    seat = calls.start(people[0], room, "video")
    ring = next(p for p in seat.pushes if isinstance(p.event, CallRinging))
    assert set(ring.audience) == set(people[1:])
    for u in people[1:6]:
        calls.accept(u, seat.call_id)
    with pytest.raises(Conflict) as err:
        calls.accept(people[6], seat.call_id)
    assert err.value.key == "err.call_full"
    [news] = calls.leave_room(people[5], room)  # a removed member leaves; five are left
    assert news.event == GroupCallChanged(room, call_id=seat.call_id, kind="video", count=5,
                                          inside=tuple(people[:5]))
    assert len(calls.call_peers(seat.call_id)) == 5


def test_group_call_banner_join_and_tiles(db_clean):
    """Every member hears how many are in the group's call; one who declined joins from the banner;
    the tiles name the others with their camera and microphone; a block keeps a joiner out."""
    anna, boris, vera, gleb = (make_user(n) for n in ("anna", "boris", "vera", "gleb"))
    room = make_group(anna, boris, vera, gleb)
    seat = calls.start(anna, room, "video")
    news = seat.pushes[-1]
    assert set(news.audience) == {anna, boris, vera, gleb} and news.event.count == 1
    assert group_calls.room_call(gleb, room) == {"call_id": seat.call_id, "kind": "video", "count": 1,
                                                 "mine": False}
    # Anna's other tabs show no Join: she is in it.
    assert group_calls.room_call(anna, room)["mine"] and news.event.inside == (anna,)
    joined = calls.accept(boris, seat.call_id)
    assert joined.remote_peers == (seat.peer_id,) and joined.pushes[-1].event.count == 2
    assert seat.group and joined.group
    assert joined.since is None  # the first answer: the call's clock starts now
    calls.decline(vera, seat.call_id)
    calls.set_media(boris, seat.call_id, False, False)
    again = calls.accept(vera, seat.call_id)  # declined, then joined from the banner
    with db.session() as s:
        answered = s.exec(text("SELECT answered_at FROM calls WHERE id = :c"), params={"c": seat.call_id}).scalar()
    assert again.since == answered  # a late joiner's timer counts from the call's start, not from joining
    tiles = group_calls.participants(vera, seat.call_id)
    assert [(t["user_id"], t["mic"], t["camera"]) for t in tiles] == [(anna, True, True), (boris, False, False)]
    assert group_calls.participants(gleb, seat.call_id) == []  # not in it: nothing
    block(gleb, boris)
    with pytest.raises(Forbidden):
        calls.accept(gleb, seat.call_id)
    [left] = calls.hang_up(vera, seat.call_id)
    assert left.event.count == 2
    ended = calls.hang_up(boris, seat.call_id)  # anna alone: over for everyone, the banner goes
    assert [p.event.count for p in ended if isinstance(p.event, GroupCallChanged)] == [0]
    assert group_calls.room_call(gleb, room) is None and again.peer_id


def test_ice_servers_with_a_turn_secret(monkeypatch):
    from dataclasses import replace

    from corpchat.config import settings

    monkeypatch.setattr(ice, "settings", replace(
        settings, stun_urls="stun:stun.example:3478", turn_secret="s3cret",
        turn_urls="turn:turn.example:3478?transport=udp, turns:turn.example:5349"))
    stun, turn = ice.ice_servers()
    assert stun == {"urls": ["stun:stun.example:3478"]}
    assert turn["urls"] == ["turn:turn.example:3478?transport=udp", "turns:turn.example:5349"]
    assert int(turn["username"]) > 0 and len(turn["credential"]) == 28
    assert calls.duration(7) == "0:07" and calls.duration(3723) == "1:02:03"


def test_the_server_ends_an_unanswered_ring_by_itself(pair, monkeypatch):
    """The caller's handler leaves a task that ends the ring as missed once its time is up, and
    tells both sides, whether or not any tab is still there to ask."""
    import asyncio
    from dataclasses import replace

    from corpchat.config import settings
    from corpchat.state.chat import calls as call_state

    told = []

    async def push(p, **_):
        told.append(p)

    short = replace(settings, call_ring_seconds=0)
    monkeypatch.setattr(calls, "settings", short)
    monkeypatch.setattr(call_state, "settings", short)
    monkeypatch.setattr(call_state.hub, "push", push)
    anna, boris, _, room = pair
    seat = calls.start(anna, room, "video")
    asyncio.run(call_state._ring_timeout(seat.call_id))
    assert [type(p.event) for p in told] == [CallEnded, MessageSent]
    assert set(told[0].audience) == {anna, boris} and told[0].event.outcome == "missed"
    assert _call(seat.call_id) == ("ended", "missed")


def test_a_group_call_stops_ringing_those_who_never_answered(db_clean, monkeypatch):
    from dataclasses import replace

    from corpchat.config import settings

    anna, boris, vera = make_user("anna"), make_user("boris"), make_user("vera")
    room = make_group(anna, boris, vera)
    seat = calls.start(anna, room, "video")
    calls.accept(boris, seat.call_id)
    assert calls.expire(seat.call_id) == []  # before its time
    monkeypatch.setattr(calls, "settings", replace(settings, call_ring_seconds=0))
    [stop] = calls.expire(seat.call_id)
    assert stop.audience == (vera,) and isinstance(stop.event, CallEnded)
    assert calls.live_call(vera) is None and len(calls.call_peers(seat.call_id)) == 2
    calls.accept(vera, seat.call_id)  # the banner still lets her in
