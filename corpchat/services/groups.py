"""Group administration: each action checks the actor's (and the target's) role in the one
policy table, writes its audit-log row and its system message in the same transaction, and
returns what to tell, in order, once committed.

Every action locks the room's row first (`access_room(..., lock=True)`): a group's
administrative actions run one at a time, so concurrent promote / demote / transfer / leave
cannot leave it with no owner or two (and a partial unique index says "at most one owner" in
the database too). Actions that call each other share the caller's session through helpers
taking `s`: `db.session()` blocks do not nest.

The audit log is the group's own: its rows go when the group is deleted (ON DELETE CASCADE),
like its messages; only the group's owner and admins ever read it (services/group_log.py).
"""

from __future__ import annotations

from sqlalchemy import case, delete, func, select, update

from corpchat import db
from corpchat.config import settings
from corpchat.models import GroupLog, Participant, Room, User
from corpchat.services import policy, rate_limits, system_messages, validate
from corpchat.services.access import access_room
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.events import GroupRenamed, MemberRemoved, MembersAdded, Push, RemovedFromChat, RoleChanged
from corpchat.services.visibility import blocked_either_way, room_members

NAME_MAX = 100


def check_name(name) -> str:
    name = validate.text(name, max_len=NAME_MAX, key="err.group_name_too_long")
    name = " ".join(validate.without_controls(name).split())  # one line, as a person's name
    if not name:
        raise Invalid("err.group_name_empty")
    return name


def check_people(user_ids, *, most: int, besides: int) -> list[int]:
    """The people picked: at least one besides the actor, at most `most`, each once."""
    if not isinstance(user_ids, list):
        raise Invalid()
    if len(user_ids) > most:
        raise Invalid("err.group_too_many", max=settings.group_max_members)
    people = [u for u in dict.fromkeys(validate.ident(u) for u in user_ids) if u != besides]
    if not people:
        raise Invalid("err.group_nobody")
    return people


def create_group(actor_id: int, name, member_ids) -> tuple[int, list[Push]]:
    """A new group named `name`, the actor its owner, with the people picked; returns its id and
    the pushes (the system line brings the chat into every member's list)."""
    rate_limits.check("profile", actor_id)
    name = check_name(name)
    people = check_people(member_ids, most=settings.group_max_members - 1, besides=actor_id)
    with db.session() as s:
        room = Room(kind="group", name=name, created_by=actor_id)
        s.add(room)
        s.flush()
        s.add(Participant(room_id=room.id, user_id=actor_id, role="owner"))
        _add_people(s, room.id, actor_id, people)
        _log(s, room.id, actor_id, "create", details={"new": name})
        note = system_messages.write(s, room.id, "group_created", actor=actor_id, new=name)
        for uid in people:
            _log(s, room.id, actor_id, "add", target_id=uid)
        return room.id, [note]


def rename_group(actor_id: int, room_id, name) -> list[Push]:
    # Each change is pushed to every member: bounded like profile edits (19#4).
    rate_limits.check("profile", actor_id)
    name = check_name(name)
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        policy.require(me.role, "group.rename", room.kind)
        if room.name == name:
            return []
        old, room.name = room.name, name
        s.add(room)
        _log(s, room.id, actor_id, "rename", details={"old": old, "new": name})
        note = system_messages.write(s, room.id, "group_renamed", actor=actor_id, old=old, new=name)
        return [Push(room_members(s, room.id), GroupRenamed(room.id, name=name)), note]


def add_members(actor_id: int, room_id, user_ids) -> list[Push]:
    rate_limits.check("profile", actor_id)
    people = check_people(user_ids, most=settings.group_max_members, besides=actor_id)
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        policy.require(me.role, "group.add_member", room.kind)
        present = set(room_members(s, room.id))
        new = [u for u in people if u not in present]
        if len(present) + len(new) > settings.group_max_members:
            raise Invalid("err.group_too_many", max=settings.group_max_members)
        _add_people(s, room.id, actor_id, new)
        notes = [Push(tuple(sorted(present)), MembersAdded(room.id, user_ids=tuple(new)))] if new else []
        for uid in new:
            _log(s, room.id, actor_id, "add", target_id=uid)
            notes.append(system_messages.write(s, room.id, "member_added", actor=actor_id, target=uid))
        return notes


def remove_member(actor_id: int, room_id, user_id) -> list[Push]:
    rate_limits.check("profile", actor_id)
    user_id = validate.ident(user_id)
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        if user_id == actor_id:
            raise Invalid()  # leaving is its own action
        target = _participant(s, room.id, user_id)
        policy.require(me.role, "group.remove_member", room.kind, target.role)
        return _drop(s, room.id, user_id, actor_id, "remove", "member_removed")


def leave_group(actor_id: int, room_id) -> list[Push]:
    """Anyone leaves; the owner hands the group over first unless they are its last member
    (then the group is deleted)."""
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        policy.require(me.role, "group.leave", room.kind)
        if me.role == "owner":
            if len(room_members(s, room.id)) > 1:
                raise Forbidden("err.owner_must_transfer")
            return _delete(s, room.id)
        return _drop(s, room.id, actor_id, None, "leave", "member_left")


def set_role(actor_id: int, room_id, user_id, role) -> list[Push]:
    """Promote a member to admin or demote an admin to member (the owner only)."""
    if role not in ("admin", "member"):
        raise Invalid()
    user_id = validate.ident(user_id)
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        target = _participant(s, room.id, user_id)
        policy.require(me.role, "group.set_role", room.kind, target.role)
        if target.role == role:
            return []
        _set(s, room.id, user_id, role)
        action = "promote" if role == "admin" else "demote"
        _log(s, room.id, actor_id, action, target_id=user_id)
        note = system_messages.write(s, room.id, f"member_{action}d", actor=actor_id, target=user_id)
        return [Push(room_members(s, room.id), RoleChanged(room.id, user_id=user_id, role=role)), note]


def transfer_ownership(actor_id: int, room_id, user_id) -> list[Push]:
    """The owner makes another member the owner and becomes an admin."""
    user_id = validate.ident(user_id)
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        policy.require(me.role, "group.transfer", room.kind)
        if user_id == actor_id:
            raise Invalid()
        _participant(s, room.id, user_id)
        _set(s, room.id, actor_id, "admin")  # first: at most one owner at any moment
        _set(s, room.id, user_id, "owner")
        _log(s, room.id, actor_id, "transfer", target_id=user_id)
        note = system_messages.write(s, room.id, "owner_changed", actor=actor_id, target=user_id)
        everyone = room_members(s, room.id)
        return [Push(everyone, RoleChanged(room.id, user_id=actor_id, role="admin")),
                Push(everyone, RoleChanged(room.id, user_id=user_id, role="owner")), note]


def delete_group(actor_id: int, room_id) -> list[Push]:
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        policy.require(me.role, "group.delete", room.kind)
        return _delete(s, room.id)


MEMBERS_SHOWN = 50  # a page of the member list: a 1,000-member group is never read whole


def member_ids(actor_id: int, room_id) -> tuple[int, ...]:
    """Every member's id (members only): the header counts how many of them are online."""
    with db.session() as s:
        room, _ = access_room(s, actor_id, room_id)
        if room.kind != "group":
            raise NotFound()
        return room_members(s, room.id)


def members(actor_id: int, room_id, query="", offset=0, limit: int = MEMBERS_SHOWN) -> tuple[str, list[dict], bool]:
    """My role, one page of the group's members (owner, admins, then the rest by name) matching
    `query` in login or name, and whether more follow; members only. Sorted and cut by PostgreSQL."""
    query = validate.text(query, max_len=100).strip()
    if type(offset) is not int or not 0 <= offset <= settings.group_max_members:
        raise Invalid()
    limit = max(1, min(limit, MEMBERS_SHOWN))
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id)
        if room.kind != "group":
            raise NotFound()
        rank = case({"owner": 0, "admin": 1}, value=Participant.role, else_=2)
        name = func.coalesce(func.nullif(User.real_name, ""), User.login)
        q = (select(User.id, User.login, name.label("name"), Participant.role)
             .join(Participant, Participant.user_id == User.id).where(Participant.room_id == room.id))
        if query:
            like = validate.like_pattern(query)
            q = q.where(User.login.ilike(like) | User.real_name.ilike(like))
        rows = s.exec(q.order_by(rank, func.lower(name), User.id).offset(offset).limit(limit + 1)).all()
    people = [{"id": r.id, "login": r.login, "name": r.name, "role": r.role} for r in rows[:limit]]
    return me.role, people, len(rows) > limit


def _add_people(s, room_id: int, actor_id: int, people: list[int]) -> None:
    """Add these users as members: each must exist, and no block may stand between them and
    the one adding them (a blocked user cannot be pulled into a group with the blocker)."""
    if not people:
        return
    found = set(s.exec(select(User.id).where(User.id.in_(people))).scalars())
    if found != set(people):
        raise NotFound()
    if any(blocked_either_way(s, actor_id, uid) for uid in people):
        raise Forbidden("err.blocked")
    for uid in people:
        s.add(Participant(room_id=room_id, user_id=uid, role="member"))
    s.flush()
    _members_changed(s, room_id)


def _members_changed(s, room_id: int) -> None:
    """Sends that took their snapshot before this change write nothing and are retried."""
    s.exec(update(Room).where(Room.id == room_id).values(members_epoch=Room.members_epoch + 1))


def _drop(s, room_id: int, user_id: int, actor_id: int | None, action: str, line: str) -> list[Push]:
    s.exec(delete(Participant).where(Participant.room_id == room_id, Participant.user_id == user_id))
    _members_changed(s, room_id)
    _log(s, room_id, actor_id or user_id, action, target_id=user_id if actor_id else None)
    note = system_messages.write(s, room_id, line, actor=actor_id or user_id,
                                 target=user_id if actor_id else None)
    # Zulip's split: the member who went loses the chat, the others see one member fewer.
    return [Push((user_id,), RemovedFromChat(room_id), evict=(user_id,)),
            Push(room_members(s, room_id), MemberRemoved(room_id, user_id=user_id)), note]


def _delete(s, room_id: int) -> list[Push]:
    everyone = room_members(s, room_id)
    s.exec(delete(Room).where(Room.id == room_id))  # participants, messages and its log go with it
    return [Push(everyone, RemovedFromChat(room_id), evict=everyone)]


def _participant(s, room_id: int, user_id: int) -> Participant:
    row = s.exec(select(Participant).where(Participant.room_id == room_id,
                                           Participant.user_id == user_id)).scalars().first()
    if row is None:
        raise NotFound()
    return row


def _set(s, room_id: int, user_id: int, role: str) -> None:
    s.exec(update(Participant).where(Participant.room_id == room_id, Participant.user_id == user_id)
           .values(role=role))


def _log(s, room_id: int, actor_id: int, action: str, target_id: int | None = None,
         details: dict | None = None) -> None:
    s.add(GroupLog(room_id=room_id, actor_id=actor_id, target_id=target_id, action=action, details=details or {}))
