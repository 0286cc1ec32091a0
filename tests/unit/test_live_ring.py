"""The per-room ring of live messages (realtime.live.Ring): order, day separators, reuse, gaps."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from corpchat.realtime.ring import CHUNK, CHUNKS, COVER, Ring, chunk_var

DAY1 = datetime(2026, 11, 27, 23, 50, tzinfo=UTC)
_ids = itertools.count(1_000_000, 1000)
_base = [0]  # message ids of the current test (bubbles are cached by id: ids never repeat across tests)


def raw(seq: int, at: datetime = DAY1, text: str | None = None, sender: int = 1) -> dict:
    return {"id": _base[0] + seq, "room_id": 7, "seq": seq, "kind": "text", "text": text or f"m{seq}",
            "sender_id": sender, "sender_name": "Anna", "client_id": f"c{seq}", "created_at": at,
            "edited_at": None, "reactions": []}


def ring(floor: int = 0, last_day: str = "2026-11-27") -> Ring:
    _base[0] = next(_ids)
    r = Ring(7, "UTC", "en", "live:7:UTC:en")
    r.floor, r.last_day, r.newest = floor, last_day, floor
    return r


def seqs(r: Ring) -> list[int]:
    return [m["seq"] for m in r.items()]


def test_messages_come_out_in_seq_order_even_when_they_arrive_out_of_order():
    r = ring()
    for s in (1, 3, 2, 5, 4):
        assert r.upsert(raw(s))
    assert seqs(r) == [1, 2, 3, 4, 5]
    assert r.after(0) == r.items()


def test_a_repeat_changes_nothing_and_an_edit_replaces_in_place():
    r = ring()
    r.upsert(raw(1))
    assert r.upsert(raw(1)) == []  # told twice (another worker, a resend)
    changed = r.upsert({**raw(1, text="edited"), "edited_at": DAY1})
    assert changed == [(1 // CHUNK) % CHUNKS]
    assert [m["text"] for m in r.items()] == ["edited"] and r.items()[0]["edited"]


def test_the_run_after_a_seq_stops_at_a_message_still_on_its_way():
    r = ring()
    for s in (1, 2, 4, 5):
        r.upsert(raw(s))
    assert [m["seq"] for m in r.after(0)] == [1, 2]
    assert r.after(2) == []  # 3 is missing: nothing after it counts yet
    r.upsert(raw(3))
    assert [m["seq"] for m in r.after(2)] == [3, 4, 5]


def test_a_ring_that_started_later_cannot_answer_for_older_seqs():
    r = ring(floor=10)
    r.upsert(raw(11))
    assert r.after(9) is None and [m["seq"] for m in r.after(10)] == [11]
    assert r.upsert(raw(5)) == []  # older than what every viewer already holds


def test_chunks_are_reused_and_the_floor_moves_up():
    r = ring()
    for s in range(1, COVER + CHUNK):  # the last one starts reusing the oldest chunk
        r.upsert(raw(s))
    assert seqs(r) == list(range(CHUNK, COVER + CHUNK))
    assert r.after(0) is None  # the oldest chunk was reused: ask the database
    assert r.after(CHUNK - 1) is not None
    assert r.order() == sorted(r.order(), key=lambda i: r.bases[i])


def test_day_separator_against_the_previous_message_and_the_seeded_day():
    r = ring(last_day="2026-11-26")
    r.upsert(raw(1))  # first of 27 Nov after history that ended on the 26th
    r.upsert(raw(2, DAY1 + timedelta(minutes=1)))
    r.upsert(raw(4, DAY1 + timedelta(minutes=20)))  # 28 Nov
    r.upsert(raw(3, DAY1 + timedelta(minutes=5)))  # overtaken: still the 27th
    flags = {m["seq"]: m["show_day"] for m in r.items()}
    assert flags == {1: True, 2: False, 3: False, 4: True}


def test_removal_leaves_the_seq_seen_so_the_run_continues():
    r = ring()
    for s in (1, 2, 3):
        r.upsert(raw(s))
    assert r.remove(2, _base[0] + 2)
    assert seqs(r) == [1, 3] and [m["seq"] for m in r.after(0)] == [1, 3]


def test_the_broadcast_delta_names_chatstate_vars():
    r = ring()
    r.upsert(raw(1))
    delta = r.delta([0])
    assert set(delta) == {f"{chunk_var(0)}_rx_state_", "live_order_rx_state_", "live_room_rx_state_"}
    assert delta["live_room_rx_state_"] == 7 and delta["live_order_rx_state_"] == [0]
