"""Rooms on a real PostgreSQL: private chats, blocks, the chat list, read marks, deleting a chat."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import event, func, insert, select

from corpchat import db
from corpchat.models import BlockedUser, Message, Participant, Room, User
from corpchat.services import messages, rooms
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.events import ChatHidden, ChatRead, Push
from tests.factories import block, make_group, make_user  # noqa: E402


def say(actor: int, room_id: int, body: str = "hello") -> dict:
    message, push = messages.send_sync(actor, room_id, body, uuid.uuid4().hex)
    assert push is not None
    return message


def count(model) -> int:
    with db.session() as s:
        return s.exec(select(func.count()).select_from(model)).scalar_one()


def participant(room_id: int, user_id: int) -> Participant:
    with db.session() as s:
        return s.get(Participant, (room_id, user_id))


def listed(user_id: int) -> list[int]:
    return [row["id"] for row in rooms.chat_list(user_id)]


# --- open_private -------------------------------------------------------------------------------


def test_one_private_room_per_pair(db_clean):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    room = rooms.open_private(alice, bob)
    assert rooms.open_private(alice, bob) == room
    assert rooms.open_private(bob, alice) == room
    assert rooms.open_private(alice, carol) != room
    assert count(Room) == 2
    with db.session() as s:
        stored = s.get(Room, room)
        assert stored.kind == "private" and stored.private_key == rooms.private_key(alice, bob)
        members = set(s.exec(select(Participant.user_id).where(Participant.room_id == room)).scalars())
    assert members == {alice, bob}


def test_private_room_shows_for_the_other_side_only_after_a_message(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    room = rooms.open_private(alice, bob)
    assert listed(alice) == [room]
    assert listed(bob) == []
    say(alice, room)
    assert listed(bob) == [room]


def test_concurrent_open_private_from_both_sides_gives_one_room(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    results, errors = [], []
    barrier = threading.Barrier(10)

    def worker(i):
        try:
            barrier.wait()
            a, b = (alice, bob) if i % 2 else (bob, alice)
            results.append(rooms.open_private(a, b))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert count(Room) == 1 and count(Participant) == 2


def test_private_with_self_is_refused(db_clean):
    alice = make_user("alice")
    with pytest.raises(Invalid):
        rooms.open_private(alice, alice)
    assert count(Room) == 0


@pytest.mark.parametrize("other", [None, "2", 2.0, True, -1, 0, [2], {"id": 2}, "x" * 100_000, 2**70])
def test_private_with_bad_ids_is_refused(db_clean, other):
    alice, _ = make_user("alice"), make_user("bob")
    with pytest.raises(Invalid):
        rooms.open_private(alice, other)
    assert count(Room) == 0


def test_private_with_unknown_user_is_not_found(db_clean):
    alice = make_user("alice")
    with pytest.raises(NotFound):
        rooms.open_private(alice, alice + 1000)
    assert count(Room) == 0 and count(Participant) == 0


@pytest.mark.parametrize("direction", ["actor_blocked_other", "other_blocked_actor"])
def test_private_with_a_blocked_pair_is_refused(db_clean, direction):
    alice, bob = make_user("alice"), make_user("bob")
    if direction == "actor_blocked_other":
        block(alice, bob)
    else:
        block(bob, alice)
    for actor, other in ((alice, bob), (bob, alice)):
        with pytest.raises(Forbidden) as err:
            rooms.open_private(actor, other)
        assert err.value.key == "err.blocked"
    assert count(Room) == 0 and count(Participant) == 0


# --- chat list ----------------------------------------------------------------------------------


def test_chat_list_orders_by_newest_activity_and_previews_the_last_message(db_clean):
    alice, bob, carol, dave = (make_user(n) for n in ("alice", "bob", "carol", "dave"))
    with db.session() as s:
        s.get(User, carol).real_name = "Carol C"
    with_bob = rooms.open_private(alice, bob)
    with_carol = rooms.open_private(alice, carol)
    group = make_group(dave, alice, carol)
    say(bob, with_bob, "first")
    say(carol, with_carol, "second")
    say(carol, group, "third")
    assert listed(alice) == [group, with_carol, with_bob]
    say(bob, with_bob, "  fourth  ")
    rows = rooms.chat_list(alice)
    assert [r["id"] for r in rows] == [with_bob, group, with_carol]
    by_id = {r["id"]: r for r in rows}
    top = by_id[with_bob]
    assert top["kind"] == "private" and top["other_id"] == bob and top["other_login"] == "bob"
    assert top["lm_text"] == "fourth" and top["lm_sender"] == bob and top["lm_kind"] == "text"
    assert top["lm_sender_name"] == "bob" and top["lm_seq"] == 2 and top["last_seq"] == 2
    assert top["lm_at"] is not None and top["blocked"] is False
    assert by_id[with_carol]["other_name"] == "Carol C"
    g = by_id[group]
    assert g["kind"] == "group" and g["name"] == "team" and g["other_id"] is None
    assert g["lm_text"] == "third" and g["lm_sender_name"] == "Carol C"
    # The preview skips messages deleted for everyone or hidden for the viewer.
    last = say(bob, with_bob, "oops")
    messages.delete_for_everyone(bob, last["id"])
    assert {r["id"]: r for r in rooms.chat_list(alice)}[with_bob]["lm_text"] == "fourth"
    messages.delete_for_me(alice, by_id[with_bob]["lm_id"])
    assert {r["id"]: r for r in rooms.chat_list(alice)}[with_bob]["lm_text"] == "first"
    assert {r["id"]: r for r in rooms.chat_list(bob)}[with_bob]["lm_text"] == "fourth"


def test_chat_list_of_an_empty_room_has_no_preview(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    room = rooms.open_private(alice, bob)
    (row,) = rooms.chat_list(alice)
    assert row["id"] == room and row["lm_id"] is None and row["unread"] == 0 and row["activity_at"]


def test_chat_list_marks_blocked_private_chats_and_hides_the_avatar(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    with db.session() as s:
        s.get(User, bob).avatar_id = "bobface"
    room = rooms.open_private(alice, bob)
    assert rooms.chat_list(alice)[0]["other_avatar"] == "bobface"
    block(bob, alice)
    (row,) = rooms.chat_list(alice)
    assert row["id"] == room and row["blocked"] is True and row["other_avatar"] is None


def test_unread_counts_exclude_own_messages_and_cap(db_clean):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    group = make_group(alice, bob, carol)
    say(alice, group, "mine")
    for i in range(3):
        say(bob, group, f"b{i}")
    say(carol, group, "c")
    assert rooms.chat_list(alice)[0]["unread"] == 4
    assert rooms.chat_list(bob)[0]["unread"] == 1  # carol's; bob read up to his own last message
    say(alice, group, "again")  # sending reads everything before it
    assert rooms.chat_list(alice)[0]["unread"] == 0
    assert rooms.chat_list(carol)[0]["unread"] == 1
    for i in range(rooms.UNREAD_CAP + 5):
        say(bob, group, f"x{i}")
    assert rooms.chat_list(alice)[0]["unread"] == rooms.UNREAD_CAP


def test_unread_skips_deleted_and_hidden_messages(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    room = rooms.open_private(alice, bob)
    m1, m2, _ = say(bob, room, "1"), say(bob, room, "2"), say(bob, room, "3")
    assert rooms.chat_list(alice)[0]["unread"] == 3
    messages.delete_for_everyone(bob, m1["id"])
    messages.delete_for_me(alice, m2["id"])
    assert rooms.chat_list(alice)[0]["unread"] == 1


def test_mark_read_moves_forward_only_and_never_past_the_last_message(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    room = rooms.open_private(alice, bob)
    for i in range(5):
        say(bob, room, str(i))
    assert rooms.mark_read(alice, room, 3) == Push((alice,), ChatRead(room, 3))
    assert rooms.chat_list(alice)[0]["unread"] == 2
    assert rooms.mark_read(alice, room, 1).event.seq == 3  # never back
    assert participant(room, alice).last_read_seq == 3
    assert rooms.mark_read(alice, room, 10**12).event.seq == 5  # never beyond last_seq
    assert participant(room, alice).last_read_seq == 5
    assert rooms.chat_list(alice)[0]["unread"] == 0


@pytest.mark.parametrize("seq", [None, -1, "3", 3.0, True, [3], {"s": 3}, 2**64])
def test_mark_read_refuses_bad_seq(db_clean, seq):
    alice, bob = make_user("alice"), make_user("bob")
    room = rooms.open_private(alice, bob)
    say(bob, room)
    with pytest.raises(Invalid):
        rooms.mark_read(alice, room, seq)
    assert participant(room, alice).last_read_seq == 0


def test_mark_read_for_a_foreign_room_is_not_found(db_clean):
    alice, bob, eve = make_user("alice"), make_user("bob"), make_user("eve")
    room = rooms.open_private(alice, bob)
    say(bob, room)
    for target in (room, room + 1000):
        with pytest.raises(NotFound):
            rooms.mark_read(eve, target, 1)
    with pytest.raises(Invalid):
        rooms.mark_read(eve, "1", 1)


def test_mark_read_batch_moves_forward_only_for_participants(db_clean):
    alice, bob, eve = make_user("alice"), make_user("bob"), make_user("eve")
    room = rooms.open_private(alice, bob)
    for i in range(4):
        say(bob, room, str(i))
    rooms.mark_read_batch([])
    rooms.mark_read_batch([(alice, room, 2), (eve, room, 4)])
    assert participant(room, alice).last_read_seq == 2
    assert participant(room, eve) is None
    rooms.mark_read_batch([(alice, room, 1)])
    assert participant(room, alice).last_read_seq == 2
    rooms.mark_read_batch([(alice, room, 99)])
    assert participant(room, alice).last_read_seq == 4
    assert participant(room, bob).last_read_seq == 4


def test_delete_chat_for_me_hides_it_until_a_new_message(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    room = rooms.open_private(alice, bob)
    say(alice, room, "old 1")
    say(bob, room, "old 2")
    push = rooms.delete_chat_for_me(alice, room)
    assert push == Push((alice,), ChatHidden(room), evict=(alice,))  # every tab of mine leaves it
    assert listed(alice) == []
    assert listed(bob) == [room]
    assert messages.history(alice, room) == ([], False)
    assert [m["text"] for m in messages.history(bob, room)[0]] == ["old 1", "old 2"]
    say(bob, room, "new")
    (row,) = rooms.chat_list(alice)
    assert row["id"] == room and row["lm_text"] == "new" and row["unread"] == 1
    page, more = messages.history(alice, room)
    assert [m["text"] for m in page] == ["new"] and more is False
    assert [m["text"] for m in messages.after(alice, room, 0)] == ["new"]
    # Old messages cannot be reached by id either.
    old = messages.history(bob, room)[0][0]
    with pytest.raises(NotFound):
        messages.toggle_reaction(alice, old["id"], "👍")


def test_delete_chat_for_me_in_a_group_and_own_message_brings_it_back(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    group = make_group(alice, bob)
    say(bob, group, "hi")
    rooms.delete_chat_for_me(alice, group)
    assert listed(alice) == []
    say(alice, group, "back")
    assert listed(alice) == [group]
    assert [m["text"] for m in messages.history(alice, group)[0]] == ["back"]


def test_delete_chat_for_me_needs_membership(db_clean):
    alice, bob, eve = make_user("alice"), make_user("bob"), make_user("eve")
    room = rooms.open_private(alice, bob)
    for bad in (room, room + 1, None, "1"):
        with pytest.raises((NotFound, Invalid)):
            rooms.delete_chat_for_me(eve, bad)
    assert participant(room, alice).hidden is False


def test_chat_row_is_one_list_entry(db_clean):
    alice, bob, eve = make_user("alice"), make_user("bob"), make_user("eve")
    room = rooms.open_private(alice, bob)
    other = rooms.open_private(alice, eve)
    say(bob, room, "x")
    row = rooms.chat_row(alice, room)
    assert row["id"] == room and row["lm_text"] == "x"
    assert rooms.chat_row(eve, room) is None
    assert rooms.chat_row(alice, other)["id"] == other
    with pytest.raises(Invalid):
        rooms.chat_row(alice, "1")


def test_chat_list_with_500_chats_is_one_query(db_clean):
    """The 'no per-chat queries' property."""
    me = make_user("meself")
    n = 500
    with db.session() as s:
        others = list(s.exec(insert(User).returning(User.id),
                             params=[{"login": f"user{i:03d}", "password_hash": "x"} for i in range(n)]).scalars())
        private = list(s.exec(insert(Room).returning(Room.id), params=[
            {"kind": "private", "private_key": rooms.private_key(me, o), "created_by": me, "last_seq": 2}
            for o in others[: n // 2]]).scalars())
        groups = list(s.exec(insert(Room).returning(Room.id), params=[
            {"kind": "group", "name": f"g{i}", "created_by": me, "last_seq": 2}
            for i in range(n - n // 2)]).scalars())
        parts = [{"room_id": r, "user_id": me, "role": "member"} for r in private + groups]
        parts += [{"room_id": r, "user_id": o, "role": "member"} for r, o in zip(private, others)]
        parts += [{"room_id": r, "user_id": o, "role": "member"} for r, o in zip(groups, reversed(others))]
        s.exec(insert(Participant), params=parts)
        senders = dict(zip(private, others)) | dict(zip(groups, reversed(others)))
        s.exec(insert(Message), params=[
            {"room_id": r, "seq": seq, "sender_id": me if seq == 1 else senders[r], "kind": "text",
             "text": f"m{r}-{seq}"}
            for r in private + groups for seq in (1, 2)])
        s.exec(insert(BlockedUser), params=[{"blocker_id": others[0], "blocked_id": me}])

    statements = []

    def count_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine()
    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        rows = rooms.chat_list(me)
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    assert len(statements) == 1, statements
    assert len(rows) == n
    assert all(r["unread"] == 1 and r["lm_seq"] == 2 for r in rows)
    assert {r["id"] for r in rows} == set(private + groups)
    assert sum(r["blocked"] for r in rows) == 1
