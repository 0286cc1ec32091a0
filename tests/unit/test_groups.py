"""Group administration and system messages on a real PostgreSQL (issue 20: several pushes, an
eviction list apart from the audience, one writer for system messages)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from corpchat import db, views
from corpchat.models import GroupLog, Message, Participant
from corpchat.services import group_log, groups, messages, rooms, system_messages
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.events import (
    GroupRenamed,
    MemberRemoved,
    MembersAdded,
    MessageSent,
    Push,
    RemovedFromChat,
    RoleChanged,
)
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
    everyone = {owner, admin, member}
    assert renamed.event == GroupRenamed(room, name="Core team") and set(renamed.audience) == everyone
    assert set(note.audience) == everyone and isinstance(note.event, MessageSent)
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
    assert told.event == MemberRemoved(room, user_id=member) and set(told.audience) == {owner, admin}
    assert set(note.audience) == {owner, admin}  # the removed member does not get it
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


def _roles(room: int) -> dict[int, str]:
    with db.session() as s:
        return dict(s.exec(select(Participant.user_id, Participant.role).where(Participant.room_id == room)).all())


def test_create_a_group_with_people_picked(db_clean):
    anna, boris, vera, eve = (make_user(n) for n in ("anna", "boris", "vera", "eve"))
    room, pushes = groups.create_group(anna, " Launch ", [boris, vera, boris, anna])
    assert _roles(room) == {anna: "owner", boris: "member", vera: "member"}
    (note,) = pushes
    assert set(note.audience) == {anna, boris, vera} and note.event.message["payload"]["action"] == "group_created"
    chat = next(c for c in rooms.chat_list(boris) if c["id"] == room)
    assert chat["name"] == "Launch" and views.chat_item(chat, boris, views.zone("UTC"), "en")["preview"] == \
        "anna created the group “Launch”"
    assert [a for a, *_ in _logs(room)] == ["create", "add", "add"]
    from tests.factories import block
    block(eve, anna)
    with pytest.raises(Forbidden):  # nobody is pulled into a group with someone they blocked
        groups.create_group(anna, "Trap", [eve])
    with pytest.raises(NotFound):
        groups.create_group(anna, "Ghosts", [10**12])
    for bad in (None, "x", [None], ["1"], [1.5], list(range(1, 1002)), [], [anna]):
        with pytest.raises(Invalid):
            groups.create_group(anna, "Bad", bad)


def test_add_members_admins_only(team):
    owner, admin, member, other, room = team
    with pytest.raises(Forbidden):
        groups.add_members(member, room, [other])
    added, note = groups.add_members(admin, room, [other, member])  # a member already: left alone
    # the members who were there count one more; the system line reaches the newcomer too
    assert added.event == MembersAdded(room, user_ids=(other,)) and set(added.audience) == {owner, admin, member}
    assert other in note.audience
    assert _roles(room)[other] == "member"
    assert [(a, t) for a, _, t, _ in _logs(room)] == [("add", other)]


def test_roles_promote_demote_and_ownership(team):
    owner, admin, member, other, room = team
    with pytest.raises(Forbidden):
        groups.set_role(admin, room, member, "admin")  # only the owner sets roles
    with pytest.raises(Forbidden):
        groups.set_role(owner, room, owner, "member")  # nobody acts on the owner
    told, note = groups.set_role(owner, room, member, "admin")
    assert told.event == RoleChanged(room, user_id=member, role="admin")
    assert groups.set_role(owner, room, member, "admin") == []
    groups.set_role(owner, room, member, "member")
    with pytest.raises(Invalid):
        groups.set_role(owner, room, member, "owner")
    with pytest.raises(Forbidden):
        groups.transfer_ownership(admin, room, member)
    groups.transfer_ownership(owner, room, member)
    assert _roles(room) == {owner: "admin", admin: "admin", member: "owner"}
    assert [a for a, *_ in _logs(room)] == ["promote", "demote", "transfer"]


def test_leave_and_delete(team):
    owner, admin, member, other, room = team
    with pytest.raises(Forbidden) as err:
        groups.leave_group(owner, room)
    assert err.value.key == "err.owner_must_transfer"
    gone, told, note = groups.leave_group(member, room)
    assert gone == Push((member,), RemovedFromChat(room), evict=(member,))
    assert set(told.audience) == {owner, admin}
    with pytest.raises(Forbidden):
        groups.delete_group(admin, room)
    (deleted,) = groups.delete_group(owner, room)
    assert set(deleted.audience) == set(deleted.evict) == {owner, admin}
    assert _members(room) == set() and _logs(room) == []  # the log goes with the group
    pair, _ = groups.create_group(other, "Pair", [owner])
    groups.leave_group(owner, pair)
    groups.leave_group(other, pair)  # the last member leaving deletes it
    assert _members(pair) == set()


def test_audit_log_for_owner_and_admins_only(team):
    owner, admin, member, other, room = team
    groups.rename_group(owner, room, "Second")
    groups.add_members(admin, room, [other])
    groups.remove_member(admin, room, other)
    with pytest.raises(Forbidden):
        group_log.read(member, room)
    entries = group_log.read(admin, room)
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("remove", "adam", "ostap"), ("add", "adam", "ostap"), ("rename", "olga", "")]
    assert (entries[-1].old, entries[-1].new) == ("Team", "Second")
    assert [e.action for e in group_log.read(owner, room, action="rename")] == ["rename"]
    assert [e.action for e in group_log.read(owner, room, person=owner)] == ["rename"]
    assert [e.action for e in group_log.read(owner, room, before_id=entries[0].id, limit=1)] == ["add"]
    with pytest.raises(Invalid):
        group_log.read(owner, room, action="message")


def test_exactly_one_owner_under_1000_concurrent_role_changes(team, monkeypatch):
    """Promote, demote, transfer and leave at once from every side, 1,000 times: the room's row
    lock orders them, so the group always has exactly one owner (and the index refuses two)."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    owner, admin, member, other, room = team
    extra = [make_user(f"extra{i}") for i in range(5)]
    groups.add_members(owner, room, [other, *extra])
    people = [owner, admin, member, other, *extra]
    rng = random.Random(20)

    def one(_):
        actor, target = rng.choice(people), rng.choice(people)
        op = rng.choice(("promote", "demote", "transfer", "transfer", "leave"))
        try:
            if op == "transfer":
                groups.transfer_ownership(actor, room, target)
            elif op == "leave":
                # leave, and come back (added by whoever owns the group now)
                groups.leave_group(actor, room)
                now_owner = next(u for u, r in _roles(room).items() if r == "owner")
                groups.add_members(now_owner, room, [actor])
            else:
                groups.set_role(actor, room, target, "admin" if op == "promote" else "member")
        except (Forbidden, Invalid, NotFound):
            pass
        owners = [u for u, r in _roles(room).items() if r == "owner"]
        return len(owners)

    from corpchat.services import rate_limits
    monkeypatch.setattr(rate_limits, "check", lambda *a: None)  # 1,000 actions in seconds: not a flood
    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(one, range(1000)))
    assert set(seen) == {1}
    assert list(_roles(room).values()).count("owner") == 1


# ----- the group's photo (services/group_avatar.py) ----------------------------------------
def _photo(colour=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def photo_store(tmp_path, monkeypatch):
    from corpchat.services import storage
    monkeypatch.setattr(storage, "_current", storage.LocalStorage(tmp_path / "files"))
    return tmp_path / "files"


def _room_avatar(room: int) -> str | None:
    from corpchat.models import Room
    with db.session() as s:
        return s.exec(select(Room.avatar_id).where(Room.id == room)).scalar_one()


def test_an_admin_sets_the_photo_every_member_is_told_and_it_is_logged(team, photo_store):
    from corpchat.services import avatars, group_avatar
    from corpchat.services.events import GroupAvatarChanged
    owner, admin, member, other, room = team
    avatar_id, (changed, note) = group_avatar.set_avatar(admin, room, _photo(), (20, 0, 80, 80))
    everyone = {owner, admin, member}
    assert changed.event == GroupAvatarChanged(room, avatar_id=avatar_id) and set(changed.audience) == everyone
    assert note.event.message["payload"]["action"] == "avatar_changed" and set(note.audience) == everyone
    assert _room_avatar(room) == avatar_id
    assert _logs(room) == [("avatar", admin, None, {"old": "", "new": avatar_id})]
    assert avatars.read_image(avatar_id, 64)[:4] == b"RIFF"  # re-encoded WebP
    # Members see it through the route's check; an outsider does not (as for a deleted one).
    assert _viewable(member, avatar_id) and not _viewable(other, avatar_id)

    # The owner replaces it: the old files go; then removes it: initials, logged and told.
    newer, _ = group_avatar.set_avatar(owner, room, _photo((0, 0, 200)))
    assert _room_avatar(room) == newer and avatars.read_image(avatar_id, 64) is None
    removed, note = group_avatar.remove_avatar(owner, room)
    assert removed.event == GroupAvatarChanged(room, avatar_id="") and _room_avatar(room) is None
    assert note.event.message["payload"]["action"] == "avatar_removed"
    assert avatars.read_image(newer, 64) is None
    assert [r[0] for r in _logs(room)] == ["avatar"] * 3 and _logs(room)[-1][3] == {"old": newer, "new": ""}
    assert group_avatar.remove_avatar(owner, room) == []  # nothing to remove, nothing told


def _viewable(viewer: int, avatar_id: str) -> bool:
    """The avatar route's check (avatars._VIEWABLE), run here on a plain connection."""
    from corpchat.models import User
    from corpchat.services import avatars
    with db.session() as s:
        version = s.exec(select(User.session_version).where(User.id == viewer)).scalar_one()
    with db.engine().connect() as conn:
        row = conn.exec_driver_sql(avatars._VIEWABLE, {"viewer": viewer, "avatar": avatar_id}).first()
    return row is not None and row.session_version == version and not row.blocked


def test_the_photo_refusals_change_nothing(team, photo_store):
    from corpchat.services import group_avatar
    owner, admin, member, other, room = team
    with pytest.raises(Forbidden):
        group_avatar.set_avatar(member, room, _photo())  # a member may not
    with pytest.raises(Forbidden):
        group_avatar.remove_avatar(member, room)
    for stranger_room in (room, 10**9, "1; DROP TABLE rooms", None):  # not a member, forged ids
        with pytest.raises((NotFound, Invalid)):
            group_avatar.set_avatar(other if stranger_room == room else owner, stranger_room, _photo())
    for bad, key in ((b"<svg onload=alert(1)>", "err.avatar_not_image"), (b"", "err.avatar_not_image"),
                     (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "err.avatar_not_image")):
        with pytest.raises(Invalid) as err:
            group_avatar.set_avatar(owner, room, bad)
        assert err.value.key == key
    with pytest.raises(Invalid) as err:
        group_avatar.set_avatar(owner, room, _photo(), (500, 500, 10, 10))  # outside the picture
    assert err.value.key == "err.avatar_crop"
    private = rooms.open_private(owner, member)
    with pytest.raises(Forbidden):
        group_avatar.set_avatar(owner, private, _photo())
    assert _room_avatar(room) is None and _logs(room) == []
    assert not list(photo_store.rglob("*")) or all(p.is_dir() for p in photo_store.rglob("*"))  # no file left


def test_the_member_list_is_read_a_page_at_a_time(db_clean):
    owner = make_user("owner")
    people = [make_user(f"m{i:03d}") for i in range(120)]
    room = make_group(owner, *people, admins=(people[-1],), name="Big")
    role, first, more = groups.members(owner, room)
    assert role == "owner" and more and len(first) == groups.MEMBERS_SHOWN
    assert [p["role"] for p in first[:3]] == ["owner", "admin", "member"]  # owner, admins, then by name
    assert first[2]["login"] == "m000"
    seen = [p["id"] for p in first]
    offset = groups.MEMBERS_SHOWN
    while more:
        _, page, more = groups.members(owner, room, offset=offset)
        seen += [p["id"] for p in page]
        offset += groups.MEMBERS_SHOWN
    assert sorted(seen) == sorted([owner, *people])  # each once, across the pages
    found = [p["login"] for p in groups.members(owner, room, "m11")[1]]
    assert found == ["m119", *(f"m11{i}" for i in range(9))]  # the admin first
    for bad in (-1, "5", 1.5, None, 10**9):
        with pytest.raises(Invalid):
            groups.members(owner, room, offset=bad)
    with pytest.raises(NotFound):
        groups.members(make_user("stranger"), room)
