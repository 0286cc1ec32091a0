"""Group administration and system messages on a real PostgreSQL (issue 20: several pushes, an
eviction list apart from the audience, one writer for system messages)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from corpchat import db, views
from corpchat.models import GroupLog, Message, Participant
from corpchat.services import groups, messages, rooms, system_messages
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.events import GroupRenamed, MemberRemoved, MessageSent, Push, RemovedFromChat
from tests.factories import make_group, make_user


@pytest.fixture
def team(db_clean):
    owner, admin, member, other = (make_user(n) for n in ("olga", "adam", "mira", "ostap"))
    room = make_group(owner, admin, member, admins=(admin,), name="Team")
    return owner, admin, member, other, room


def _logs(room: int) -> list[tuple]:
    with db.session() as s:
        return [(r.action, r.actor_id, r.target_id, r.details)
                for r in s.exec(select(GroupLog).where(GroupLog.room_id == room).order_by(GroupLog.id)).scalars()]


def _members(room: int) -> set[int]:
    with db.session() as s:
        return set(s.exec(select(Participant.user_id).where(Participant.room_id == room)).scalars())


def test_rename_pushes_the_new_name_then_the_system_message(team):
    owner, admin, member, _, room = team
    renamed, note = groups.rename_group(admin, room, "  Core   team ")
    everyone = tuple(sorted((owner, admin, member)))
    assert renamed == Push(everyone, GroupRenamed(room, name="Core team"))
    assert note.audience == everyone and isinstance(note.event, MessageSent)
    sysmsg = note.event.message
    assert sysmsg["kind"] == "system" and sysmsg["sender_id"] == 0
    assert sysmsg["payload"]["action"] == "group_renamed" and sysmsg["payload"]["names"] == {str(admin): "adam"}
    assert _logs(room) == [("rename", admin, None, {"old": "Team", "new": "Core team"})]
    assert groups.rename_group(admin, room, "Core team") == []  # nothing changed, nothing told
    assert len(_logs(room)) == 1


def test_rename_refusals_change_nothing(team):
    owner, admin, member, other, room = team
    with pytest.raises(Forbidden):
        groups.rename_group(member, room, "Mine now")
    with pytest.raises(NotFound):
        groups.rename_group(other, room, "Mine now")
    for bad, key in (("", "err.group_name_empty"), (" \n ", "err.group_name_empty"),
                     ("x" * 101, "err.group_name_too_long"), (None, "err.group_name_too_long")):
        with pytest.raises(Invalid) as err:
            groups.rename_group(owner, room, bad)
        assert err.value.key == key
    private = rooms.open_private(owner, member)
    with pytest.raises(Forbidden):
        groups.rename_group(owner, private, "A private chat has no name")
    assert _logs(room) == []


def test_remove_tells_everyone_once_and_evicts_only_the_removed(team):
    owner, admin, member, _, room = team
    removed, told, note = groups.remove_member(admin, room, member)
    assert removed == Push((member,), RemovedFromChat(room), evict=(member,))
    assert told == Push(tuple(sorted((owner, admin))), MemberRemoved(room, user_id=member))
    assert note.audience == tuple(sorted((owner, admin)))  # the removed member does not get it
    assert note.event.message["payload"]["names"] == {str(admin): "adam", str(member): "mira"}
    assert _members(room) == {owner, admin}
    assert _logs(room) == [("remove", admin, member, {})]
    # The removed member can neither read nor write there any more.
    with pytest.raises(NotFound):
        messages.history(member, room)
    with pytest.raises(NotFound):
        messages.send_sync(member, room, "still here?", uuid.uuid4().hex)


def test_admins_cannot_remove_the_owner_or_other_admins(team):
    owner, admin, member, other, room = team
    second_admin = make_user("alla")
    with db.session() as s:
        s.add(Participant(room_id=room, user_id=second_admin, role="admin"))
    for actor, target in ((admin, owner), (admin, second_admin), (member, admin), (member, owner)):
        with pytest.raises(Forbidden):
            groups.remove_member(actor, room, target)
    with pytest.raises(Invalid):
        groups.remove_member(admin, room, admin)
    with pytest.raises(NotFound):
        groups.remove_member(owner, room, other)
    assert _members(room) == {owner, admin, member, second_admin} and _logs(room) == []
    groups.remove_member(owner, room, second_admin)  # the owner may
    assert second_admin not in _members(room)


def test_system_messages_render_per_reader_language(team):
    owner, admin, member, _, room = team
    with db.session() as s:
        from corpchat.models import User
        s.get(User, admin).gender = "female"
    groups.remove_member(admin, room, member)
    page, _ = messages.history(owner, room)
    assert [m["kind"] for m in page] == ["system"]
    texts = {lang: views.message_item(page[0], views.zone("UTC"), lang)["text"] for lang in ("en", "uk", "ru")}
    assert texts == {"en": "adam removed mira", "uk": "adam видалила mira", "ru": "adam удалила mira"}
    chat = next(c for c in rooms.chat_list(owner) if c["id"] == room)
    assert views.chat_item(chat, owner, views.zone("UTC"), "uk")["preview"] == "adam видалила mira"
    # Unread for the others, read for the one who did it.
    assert chat["unread"] == 1
    assert next(c for c in rooms.chat_list(admin) if c["id"] == room)["unread"] == 0


def test_a_keyed_system_message_is_written_once(team):
    owner, _, _, _, room = team
    with db.session() as s:
        first = system_messages.write(s, room, "member_left", actor=owner, key="call-1-ended")
    with db.session() as s:
        again = system_messages.write(s, room, "member_left", actor=owner, key="call-1-ended")
    assert first is not None and again is None
    with pytest.raises(Invalid):
        with db.session() as s:
            system_messages.write(s, room, "hacked", actor=owner)


def test_a_client_cannot_send_a_system_message(team):
    owner, _, _, _, room = team
    with pytest.raises(Invalid):
        messages.send_sync(owner, room, "fake", uuid.uuid4().hex, kind="system",
                           payload={"file_id": "x", "action": "member_removed"})


def test_system_messages_keep_seq_gap_free_among_20_concurrent_senders(team):
    """The system writer takes the room's row lock like the send statement: 20 senders and a
    rename at once leave seq 1..N with no gap or duplicate, the system row among them."""
    owner, admin, member, _, room = team
    senders = [make_user(f"s{i:02d}") for i in range(20)]
    with db.session() as s:
        for uid in senders:
            s.add(Participant(room_id=room, user_id=uid, role="member"))

    async def run():
        async def send(uid, i):
            await messages.send_async(uid, room, f"m{i}", uuid.uuid4().hex)

        sends = [send(uid, i) for i in range(5) for uid in senders]
        renames = [asyncio.to_thread(groups.rename_group, owner, room, f"Team {i}") for i in range(3)]
        await asyncio.gather(*sends, *renames)
        await db.close_async_pool()

    asyncio.run(run())
    with db.session() as s:
        rows = s.exec(select(Message.seq, Message.kind).where(Message.room_id == room).order_by(Message.seq)).all()
    assert [r.seq for r in rows] == list(range(1, 104))
    assert sum(r.kind == "system" for r in rows) == 3
