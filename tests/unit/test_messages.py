"""Messages on a real PostgreSQL: send (ordered, idempotent), history, edit, delete, reactions."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from sqlalchemy import func, select

from corpchat import db
from corpchat.config import settings
from corpchat.models import Message, MessageReaction, Participant, Room
from corpchat.services import accounts, messages, rooms
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.events import MessageDeleted, MessageEdited, MessageHidden, MessageSent, Push, ReactionChanged
from tests.factories import block, make_group, make_user  # noqa: E402


def cid() -> str:
    return uuid.uuid4().hex


def say(actor: int, room_id: int, body: str = "hello") -> dict:
    message, push = messages.send_sync(actor, room_id, body, cid())
    assert push is not None
    return message


def count(model, *where) -> int:
    with db.session() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).scalar_one()


def stored(message_id: int) -> Message:
    with db.session() as s:
        return s.get(Message, message_id)


def last_seq(room_id: int) -> int:
    with db.session() as s:
        return s.get(Room, room_id).last_seq


def texts(page: list[dict]) -> list[str]:
    return [m["text"] for m in page]


@pytest.fixture
def pair(db_clean):
    """Two registered users and their private room."""
    alice = accounts.register("alice", "correct horse").user_id
    bob = accounts.register("bob", "correct horse").user_id
    return alice, bob, rooms.open_private(alice, bob)


# --- send ---------------------------------------------------------------------------------------


def test_send_stores_and_numbers_messages(pair):
    alice, bob, room = pair
    first, push = messages.send_sync(alice, room, "  Hello\r\nworld  ", cid())
    assert sorted(push.audience) == sorted([alice, bob])
    assert push.event == MessageSent(room, first)
    assert first["seq"] == 1 and first["text"] == "Hello\nworld" and first["sender_id"] == alice
    assert first["sender_name"] == "alice" and first["kind"] == "text" and first["reactions"] == []
    second = say(bob, room, "hi")
    assert second["seq"] == 2 and second["id"] != first["id"]
    assert last_seq(room) == 2
    assert stored(first["id"]).text == "Hello\nworld"
    assert count(Message) == 2


@pytest.mark.parametrize("body", ["", " ", "\n\t  \r\n", "\u3000"])
def test_empty_messages_are_refused(pair, body):
    alice, _, room = pair
    with pytest.raises(Invalid) as err:
        messages.send_sync(alice, room, body, cid())
    assert err.value.key == "err.message_empty"
    assert count(Message) == 0 and last_seq(room) == 0


def test_too_long_messages_are_refused(pair):
    alice, _, room = pair
    limit = settings.max_message_length
    with pytest.raises(Invalid) as err:
        messages.send_sync(alice, room, "x" * (limit + 1), cid())
    assert err.value.key == "err.message_too_long"
    assert count(Message) == 0
    assert len(messages.send_sync(alice, room, "y" * limit, cid())[0]["text"]) == limit


BAD_VALUES = [None, {"a": 1}, ["x"], 42, 4.2, True, b"bytes", "x" * 1_000_000]


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize("field", ["room_id", "body", "client_id"])
def test_send_refuses_wrong_types(pair, field, bad):
    alice, _, room = pair
    args = {"room_id": room, "body": "hello", "client_id": cid()}
    if field == "body" and isinstance(bad, str):
        bad = bad * 2  # over any length limit
    args[field] = bad
    expected = NotFound if field == "room_id" and type(bad) is int else Invalid  # 42: a room one is not in
    with pytest.raises(expected):
        messages.send_sync(alice, args["room_id"], args["body"], args["client_id"])
    assert count(Message) == 0 and last_seq(room) == 0


@pytest.mark.parametrize("client_id", ["short", "x" * 65, "has space1", "semi;colon", "ünïcode12", "../../etc"])
def test_send_refuses_malformed_client_ids(pair, client_id):
    alice, _, room = pair
    with pytest.raises(Invalid):
        messages.send_sync(alice, room, "hello", client_id)
    assert count(Message) == 0


def test_non_member_cannot_send(pair):
    _, _, room = pair
    eve = make_user("eve")
    for target in (room, room + 1000):
        with pytest.raises(NotFound):
            messages.send_sync(eve, target, "intrusion", cid())
    assert count(Message) == 0 and last_seq(room) == 0


@pytest.mark.parametrize("direction", ["sender_blocked_other", "other_blocked_sender"])
def test_blocked_private_pair_cannot_send(pair, direction):
    alice, bob, room = pair
    say(alice, room, "before")
    block(*((alice, bob) if direction == "sender_blocked_other" else (bob, alice)))
    for actor in (alice, bob):
        with pytest.raises(Forbidden) as err:
            messages.send_sync(actor, room, "after", cid())
        assert err.value.key == "err.blocked"
    assert count(Message) == 1 and last_seq(room) == 1


def test_blocks_do_not_stop_group_messages(db_clean):
    alice, bob = make_user("alice"), make_user("bob")
    group = make_group(alice, bob)
    block(alice, bob)
    say(bob, group, "still here")
    assert count(Message) == 1


def test_resend_with_the_same_client_id_returns_the_first_message(pair):
    alice, bob, room = pair
    client_id = cid()
    first, push = messages.send_sync(alice, room, "once", client_id)
    assert push.audience
    again, push2 = messages.send_sync(alice, room, "once (retry)", client_id)
    assert again["id"] == first["id"] and again["seq"] == 1 and again["text"] == "once"
    assert count(Message) == 1 and last_seq(room) == 1
    # Told again (its first telling may have been lost): the stored message, to the same people.
    assert set(push2.audience) == set(push.audience) and push2.event.message["id"] == first["id"]
    assert push2.event.message["text"] == "once"
    # Client ids are per sender: bob may use the same one.
    assert messages.send_sync(bob, room, "mine", client_id).push is not None
    assert count(Message) == 2


def test_resend_of_a_deleted_message_tells_nobody(pair):
    alice, _, room = pair
    client_id = cid()
    first = messages.send_sync(alice, room, "oops", client_id).message
    messages.delete_for_everyone(alice, first["id"])
    again = messages.send_sync(alice, room, "oops", client_id)
    assert again.push is None and again.message["id"] == first["id"] and count(Message) == 1


def test_resend_into_another_room_is_refused(pair):
    alice, _, room = pair
    carol = make_user("carol")
    other = rooms.open_private(alice, carol)
    client_id = cid()
    say_id = messages.send_sync(alice, room, "here", client_id)[0]["id"]
    with pytest.raises(Invalid):
        messages.send_sync(alice, other, "there", client_id)
    assert count(Message) == 1 and stored(say_id).room_id == room


def test_resend_after_leaving_the_room_is_not_found(pair):
    alice, _, room = pair
    client_id = cid()
    messages.send_sync(alice, room, "x", client_id)
    with db.session() as s:
        s.delete(s.get(Participant, (room, alice)))
    with pytest.raises(NotFound):
        messages.send_sync(alice, room, "x", client_id)


def _run_threads(n: int, target) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapped(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_concurrent_senders_get_gapless_unique_seqs(db_clean):
    senders, per_sender = 20, 10
    users = [make_user(f"sender{i:02d}") for i in range(senders)]
    group = make_group(users[0], *users[1:])
    returned: dict[int, list[int]] = {u: [] for u in users}

    def work(i):
        for k in range(per_sender):
            message, push = messages.send_sync(users[i], group, f"{i}-{k}", cid())
            assert len(push.audience) == senders
            returned[users[i]].append(message["seq"])

    assert _run_threads(senders, work) == []
    total = senders * per_sender
    with db.session() as s:
        seqs = sorted(s.exec(select(Message.seq).where(Message.room_id == group)).scalars())
        assert s.get(Room, group).last_seq == total
    assert seqs == list(range(1, total + 1))
    for seen in returned.values():
        assert seen == sorted(seen) and len(seen) == per_sender  # each sender's own order holds
    assert sorted(q for seen in returned.values() for q in seen) == seqs
    page, more = messages.history(users[5], group)
    assert [m["seq"] for m in page] == list(range(total - 49, total + 1)) and more


# The page sends through send_async (the event loop's own connection): same checks, same SQL.
async def test_send_async_stores_refuses_and_is_idempotent(pair):
    alice, bob, room = pair
    first, push = await messages.send_async(alice, room, "  async hello ", "client-0001")
    assert sorted(push.audience) == sorted([alice, bob])
    assert first["seq"] == 1 and first["text"] == "async hello" and first["sender_name"] == "alice"
    again, push2 = await messages.send_async(alice, room, "other text", "client-0001")
    assert (again["id"], again["text"]) == (first["id"], "async hello")
    assert push2.event.message["id"] == first["id"]  # told again: its first telling may have been lost
    eve = make_user("eve")
    for actor, target, body, client_id, error in (
            (eve, room, "intrusion", cid(), NotFound), (alice, room + 1000, "x", cid(), NotFound),
            (alice, room, "", cid(), Invalid), (alice, room, "x", "bad id", Invalid),
            (alice, "1", "x", cid(), Invalid), (alice, room, None, cid(), Invalid)):
        with pytest.raises(error):
            await messages.send_async(actor, target, body, client_id)
    block(bob, alice)
    with pytest.raises(Forbidden):
        await messages.send_async(alice, room, "blocked", cid())
    assert count(Message) == 1 and last_seq(room) == 1


async def test_concurrent_async_senders_get_gapless_unique_seqs(db_clean):
    users = [make_user(f"asender{i:02d}") for i in range(20)]
    group = make_group(users[0], *users[1:])

    async def work(user):
        return [(await messages.send_async(user, group, f"{user}-{k}", cid()))[0]["seq"] for k in range(5)]

    returned = await asyncio.gather(*(work(u) for u in users))
    assert sorted(q for seen in returned for q in seen) == list(range(1, 101)) and last_seq(group) == 100
    assert all(seen == sorted(seen) for seen in returned)


async def test_sends_written_together_keep_their_own_outcomes(db_clean):
    """Sends to one room that arrive together share one statement (see send_async): each still
    gets its own answer - stored in arrival order, refused, or the stored message of a resend."""
    alice, bob, carol, eve = (make_user(n) for n in ("alice", "bob", "carol", "eve"))
    group = make_group(alice, bob, carol)
    again = cid()
    outcomes = await asyncio.gather(*(
        messages.send_async(actor, group, body, client_id) for actor, body, client_id in (
            (alice, "one", cid()), (eve, "intrusion", cid()), (bob, "two", again),
            (bob, "two (resent)", again), (carol, "three", cid()), (alice, "", cid()))),
        return_exceptions=True)
    one, intrusion, two, two_again, three, empty = outcomes
    assert [m["text"] for m, push in (one, two, three) if push] == ["one", "two", "three"]
    assert [one[0]["seq"], two[0]["seq"], three[0]["seq"]] == [1, 2, 3] and last_seq(group) == 3
    assert isinstance(intrusion, NotFound) and isinstance(empty, Invalid)
    assert (two_again[0]["id"], two_again[0]["text"]) == (two[0]["id"], "two")
    assert two_again.push.event.message["seq"] == two[0]["seq"]
    assert sorted(one.push.audience) == sorted([alice, bob, carol]) and count(Message) == 3
    with db.session() as s:
        reads = {p.user_id: p.last_read_seq for p in s.exec(select(Participant).where(Participant.room_id == group))
                 .scalars()}
    assert reads == {alice: 1, bob: 2, carol: 3}  # each sender has read up to their own message

    private = rooms.open_private(alice, bob)
    block(alice, bob)
    refused = await asyncio.gather(messages.send_async(alice, private, "hi", cid()),
                                   messages.send_async(bob, private, "hey", cid()), return_exceptions=True)
    assert all(isinstance(r, Forbidden) for r in refused) and last_seq(private) == 0


def test_concurrent_resends_store_one_message(pair):
    alice, _, room = pair
    client_id = cid()
    results = []

    def work(i):
        results.append(messages.send_sync(alice, room, "same", client_id))

    assert _run_threads(12, work) == []
    assert count(Message) == 1 and last_seq(room) == 1
    assert len({r[0]["id"] for r in results}) == 1
    # Each answer tells the one stored message (the ring and chat lists take it once).
    assert {r.push.event.message["id"] for r in results} == {results[0][0]["id"]}


def test_concurrent_sends_of_one_client_id_into_two_rooms(pair):
    """Only one room gets it; the other attempt is a clean refusal, never a database error."""
    alice, _, room = pair
    other = rooms.open_private(alice, make_user("carol"))
    client_id = cid()
    outcomes = []

    def work(i):
        try:
            outcomes.append(messages.send_sync(alice, (room, other)[i % 2], "same", client_id).message["id"])
        except Invalid:
            outcomes.append("invalid")

    for _ in range(5):
        client_id = cid()
        outcomes.clear()
        assert _run_threads(8, work) == []
        assert count(Message, Message.client_id == client_id) == 1
        assert len(set(outcomes) - {"invalid"}) == 1  # the stored one, or a resend of it
    assert last_seq(room) + last_seq(other) == 5


# --- history and catch-up -----------------------------------------------------------------------


def test_history_pages_from_the_newest(pair):
    alice, bob, room = pair
    for i in range(1, 121):
        say(alice if i % 2 else bob, room, f"m{i}")
    page, more = messages.history(bob, room)
    assert more is True and [m["seq"] for m in page] == list(range(71, 121))
    page2, more2 = messages.history(bob, room, before_seq=page[0]["seq"])
    assert more2 is True and [m["seq"] for m in page2] == list(range(21, 71))
    page3, more3 = messages.history(bob, room, before_seq=page2[0]["seq"])
    assert more3 is False and [m["seq"] for m in page3] == list(range(1, 21))
    assert messages.history(bob, room, before_seq=1) == ([], False)
    exact, more_exact = messages.history(bob, room, before_seq=51)
    assert len(exact) == 50 and more_exact is False


def test_history_of_an_empty_room(pair):
    alice, _, room = pair
    assert messages.history(alice, room) == ([], False)
    assert messages.after(alice, room, 0) == []


def test_history_skips_deleted_and_hidden_for_me(pair):
    alice, bob, room = pair
    m = [say(alice, room, f"m{i}") for i in range(1, 6)]
    messages.delete_for_everyone(alice, m[1]["id"])
    messages.delete_for_me(bob, m[2]["id"])
    assert texts(messages.history(bob, room)[0]) == ["m1", "m4", "m5"]
    assert texts(messages.history(alice, room)[0]) == ["m1", "m3", "m4", "m5"]
    assert texts(messages.after(bob, room, 0)) == ["m1", "m4", "m5"]


def test_history_respects_cleared_seq(pair):
    alice, bob, room = pair
    for i in range(3):
        say(alice, room, f"old{i}")
    rooms.delete_chat_for_me(bob, room)
    say(alice, room, "new")
    assert texts(messages.history(bob, room)[0]) == ["new"]
    assert texts(messages.history(bob, room, before_seq=4)[0]) == []
    assert texts(messages.after(bob, room, 0)) == ["new"]
    assert len(messages.history(alice, room)[0]) == 4


def test_after_returns_what_a_tab_missed(pair):
    alice, bob, room = pair
    for i in range(1, 8):
        say(alice, room, f"m{i}")
    assert [m["seq"] for m in messages.after(bob, room, 4)] == [5, 6, 7]
    assert messages.after(bob, room, 7) == []
    assert messages.after(bob, room, 10**9) == []


def test_after_is_capped(pair, monkeypatch):
    alice, bob, room = pair
    monkeypatch.setattr(messages, "CATCH_UP_LIMIT", 3)
    for i in range(5):
        say(alice, room, str(i))
    assert [m["seq"] for m in messages.after(bob, room, 0)] == [1, 2, 3]


@pytest.mark.parametrize("bad", [None, -1, "5", 5.0, True, [1], {"s": 1}, 2**64])
def test_history_and_after_refuse_bad_seqs(pair, bad):
    alice, _, room = pair
    say(alice, room)
    if bad is not None:
        with pytest.raises(Invalid):
            messages.history(alice, room, before_seq=bad)
    with pytest.raises(Invalid):
        messages.after(alice, room, bad)


@pytest.mark.parametrize("bad", [0, -1, "10", None, 10**6, 2.5, True])
def test_history_refuses_bad_limits(pair, bad):
    alice, _, room = pair
    with pytest.raises(Invalid):
        messages.history(alice, room, limit=bad)


def test_history_and_after_need_membership(pair):
    alice, _, room = pair
    say(alice, room, "secret")
    eve = make_user("eve")
    for call in (lambda r: messages.history(eve, r), lambda r: messages.after(eve, r, 0)):
        for target in (room, room + 1000):
            with pytest.raises(NotFound):
                call(target)
        for bad in (None, "1", [room], {"id": room}, True):
            with pytest.raises(Invalid):
                call(bad)


# --- edit ---------------------------------------------------------------------------------------


def test_edit_own_text(pair):
    alice, bob, room = pair
    m = say(alice, room, "draft")
    assert m["edited_at"] is None
    view, push = messages.edit(alice, m["id"], "  final  ")
    assert view["text"] == "final" and view["edited_at"] is not None and view["seq"] == m["seq"]
    assert sorted(push.audience) == sorted([alice, bob]) and push.event == MessageEdited(room, view)
    row = stored(m["id"])
    assert row.text == "final" and row.edited_at is not None
    assert texts(messages.history(bob, room)[0]) == ["final"]


def test_edit_with_the_same_text_is_not_marked(pair):
    alice, _, room = pair
    m = say(alice, room, "same")
    view, _ = messages.edit(alice, m["id"], "same")
    assert view["edited_at"] is None and stored(m["id"]).edited_at is None


def test_others_cannot_edit(pair):
    alice, bob, room = pair
    m = say(alice, room, "mine")
    with pytest.raises(Forbidden) as err:
        messages.edit(bob, m["id"], "yours")
    assert err.value.key == "err.not_editable"
    eve = make_user("eve")
    with pytest.raises(NotFound):
        messages.edit(eve, m["id"], "hacked")
    row = stored(m["id"])
    assert row.text == "mine" and row.edited_at is None


def test_group_owner_cannot_edit_others(db_clean):
    owner, member = make_user("owner"), make_user("member")
    group = make_group(owner, member)
    m = say(member, group, "mine")
    with pytest.raises(Forbidden):
        messages.edit(owner, m["id"], "changed")
    assert stored(m["id"]).text == "mine"


@pytest.mark.parametrize("body", ["", "   ", None, 5, {"t": 1}, ["t"], "x" * 1_000_000])
def test_edit_refuses_bad_text(pair, body):
    alice, _, room = pair
    m = say(alice, room, "keep")
    with pytest.raises(Invalid):
        messages.edit(alice, m["id"], body)
    row = stored(m["id"])
    assert row.text == "keep" and row.edited_at is None


@pytest.mark.parametrize("bad", [None, "1", 1.0, True, -1, 0, [1], {"id": 1}, 2**64])
def test_message_functions_refuse_bad_ids(pair, bad):
    alice, _, room = pair
    say(alice, room, "keep")
    for call in (lambda: messages.edit(alice, bad, "x"), lambda: messages.delete_for_me(alice, bad),
                 lambda: messages.delete_for_everyone(alice, bad), lambda: messages.toggle_reaction(alice, bad, "👍")):
        with pytest.raises(Invalid):
            call()
    assert texts(messages.history(alice, room)[0]) == ["keep"]


def test_edit_refused_in_a_blocked_private_chat(pair):
    alice, bob, room = pair
    m = say(alice, room, "before")
    block(bob, alice)
    with pytest.raises(Forbidden):
        messages.edit(alice, m["id"], "after")
    assert stored(m["id"]).text == "before"


def test_deleted_or_hidden_messages_cannot_be_edited(pair):
    alice, _, room = pair
    gone, hidden = say(alice, room, "gone"), say(alice, room, "hidden")
    messages.delete_for_everyone(alice, gone["id"])
    messages.delete_for_me(alice, hidden["id"])
    for m in (gone, hidden):
        with pytest.raises(NotFound):
            messages.edit(alice, m["id"], "revived")
    assert stored(gone["id"]).text == "" and stored(hidden["id"]).text == "hidden"


# --- delete -------------------------------------------------------------------------------------


def test_delete_for_me_hides_for_the_actor_only(pair):
    alice, bob, room = pair
    m = say(bob, room, "text")
    push = messages.delete_for_me(alice, m["id"])
    assert push == Push((alice,), MessageHidden(room, m["id"], m["seq"]))
    assert texts(messages.history(alice, room)[0]) == []
    assert texts(messages.history(bob, room)[0]) == ["text"]
    assert stored(m["id"]).hidden_for == [alice] and stored(m["id"]).deleted_at is None
    with pytest.raises(NotFound):  # twice is a no-op refusal, not a duplicate entry
        messages.delete_for_me(alice, m["id"])
    assert stored(m["id"]).hidden_for == [alice]
    messages.delete_for_me(bob, m["id"])
    assert sorted(stored(m["id"]).hidden_for) == sorted([alice, bob])


def test_delete_for_me_needs_membership(pair):
    alice, _, room = pair
    m = say(alice, room)
    eve = make_user("eve")
    with pytest.raises(NotFound):
        messages.delete_for_me(eve, m["id"])
    assert stored(m["id"]).hidden_for == []


def test_delete_for_everyone_by_the_sender(pair):
    alice, bob, room = pair
    m = say(alice, room, "regret")
    messages.toggle_reaction(bob, m["id"], "👍")
    push = messages.delete_for_everyone(alice, m["id"])
    assert push.event == MessageDeleted(room, m["id"], m["seq"]) and sorted(push.audience) == sorted([alice, bob])
    row = stored(m["id"])
    assert row.deleted_at is not None and row.text == ""
    assert count(MessageReaction) == 0
    assert messages.history(bob, room) == ([], False)
    with pytest.raises(NotFound):
        messages.delete_for_everyone(alice, m["id"])


def test_delete_for_everyone_by_another_member_is_refused(pair):
    alice, bob, room = pair
    m = say(alice, room, "keep")
    with pytest.raises(Forbidden):
        messages.delete_for_everyone(bob, m["id"])
    row = stored(m["id"])
    assert row.deleted_at is None and row.text == "keep"
    with pytest.raises(NotFound):
        messages.delete_for_everyone(make_user("eve"), m["id"])
    assert stored(m["id"]).deleted_at is None


def test_delete_for_everyone_in_a_group_by_owner_and_admin(db_clean):
    owner, admin, member, other = (make_user(n) for n in ("owner", "admin", "member", "other"))
    group = make_group(owner, admin, member, other, admins=(admin,))
    m1, m2, m3 = say(member, group, "1"), say(member, group, "2"), say(owner, group, "3")
    with pytest.raises(Forbidden):
        messages.delete_for_everyone(other, m1["id"])
    assert stored(m1["id"]).deleted_at is None
    messages.delete_for_everyone(owner, m1["id"])
    messages.delete_for_everyone(admin, m2["id"])
    assert stored(m1["id"]).deleted_at is not None and stored(m2["id"]).deleted_at is not None
    with pytest.raises(Forbidden):  # members cannot delete the owner's messages
        messages.delete_for_everyone(member, m3["id"])
    assert texts(messages.history(other, group)[0]) == ["3"]


# --- reactions ----------------------------------------------------------------------------------


def _reactions(view: dict) -> dict[str, list[int]]:
    return {r["emoji"]: r["user_ids"] for r in view["reactions"]}


def test_toggle_reaction(pair):
    alice, bob, room = pair
    m = say(alice, room, "react to me")
    view, push = messages.toggle_reaction(bob, m["id"], "👍")
    assert _reactions(view) == {"👍": [bob]} and sorted(push.audience) == sorted([alice, bob])
    assert push.event == ReactionChanged(room, view)
    assert view["reactions"][0]["names"] == ["bob"]
    view, _ = messages.toggle_reaction(alice, m["id"], "👍")
    assert _reactions(view) == {"👍": [bob, alice]}
    view, _ = messages.toggle_reaction(bob, m["id"], "❤️")
    view, _ = messages.toggle_reaction(bob, m["id"], "🇺🇦")
    assert {e: len(u) for e, u in _reactions(view).items()} == {"👍": 2, "❤️": 1, "🇺🇦": 1}
    view, _ = messages.toggle_reaction(bob, m["id"], "👍")  # toggled off
    assert _reactions(view) == {"👍": [alice], "❤️": [bob], "🇺🇦": [bob]}
    assert count(MessageReaction) == 3
    assert _reactions(messages.history(alice, room)[0][0]) == _reactions(view)


def test_reactions_per_user_are_limited(pair, monkeypatch):
    alice, bob, room = pair
    monkeypatch.setattr(messages, "MAX_REACTIONS_PER_USER", 2)
    m = say(alice, room)
    messages.toggle_reaction(bob, m["id"], "👍")
    messages.toggle_reaction(bob, m["id"], "🔥")
    with pytest.raises(Invalid) as refused:
        messages.toggle_reaction(bob, m["id"], "🎉")
    assert refused.value.key == "err.too_many_reactions"  # 18#7: says what happened
    messages.toggle_reaction(bob, m["id"], "🔥")  # removing is always allowed
    assert count(MessageReaction) == 1


@pytest.mark.parametrize("reaction", ["a", "<img>", "", None, "x" * 100, "👍👍", "👍a", 1, ["👍"], {"e": "👍"},
                                      "<img src=x onerror=alert(1)>", "👍" * 100])
def test_non_emoji_reactions_are_refused(pair, reaction):
    alice, bob, room = pair
    m = say(alice, room)
    with pytest.raises(Invalid) as err:
        messages.toggle_reaction(bob, m["id"], reaction)
    assert err.value.key == "err.reaction_invalid"
    assert count(MessageReaction) == 0


def test_non_member_cannot_react(pair):
    alice, _, room = pair
    m = say(alice, room)
    eve = make_user("eve")
    with pytest.raises(NotFound):
        messages.toggle_reaction(eve, m["id"], "👍")
    assert count(MessageReaction) == 0


def test_reactions_on_deleted_or_hidden_messages_are_refused(pair):
    alice, bob, room = pair
    gone, hidden = say(alice, room, "gone"), say(alice, room, "hidden")
    messages.delete_for_everyone(alice, gone["id"])
    messages.delete_for_me(bob, hidden["id"])
    for m in (gone, hidden):
        with pytest.raises(NotFound):
            messages.toggle_reaction(bob, m["id"], "👍")
    assert count(MessageReaction) == 0


def test_concurrent_toggles_of_one_reaction_stay_consistent(pair):
    alice, bob, room = pair
    m = say(alice, room)

    def work(i):
        messages.toggle_reaction(bob, m["id"], "👍")

    assert _run_threads(10, work) == []  # an even number of toggles
    assert count(MessageReaction) == 0
