"""Group administration: each action checks the actor's (and the target's) role in the one
policy table, writes its audit-log row and its system message in the same transaction, and
returns what to tell, in order, once committed.

Actions that call each other (leave -> hand over ownership -> log -> system message) share the
caller's session through `_in(s, ...)` helpers: `db.session()` blocks do not nest.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from corpchat import db
from corpchat.models import GroupLog, Participant
from corpchat.services import policy, rate_limits, system_messages, validate
from corpchat.services.access import access_room
from corpchat.services.errors import Invalid, NotFound
from corpchat.services.events import GroupRenamed, MemberRemoved, Push, RemovedFromChat

NAME_MAX = 100


def check_name(name) -> str:
    name = validate.text(name, max_len=NAME_MAX, key="err.group_name_too_long")
    name = " ".join(name.split())
    if not name:
        raise Invalid("err.group_name_empty")
    return name


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
        return [Push(_members(s, room.id), GroupRenamed(room.id, name=name)), note]


def remove_member(actor_id: int, room_id, user_id) -> list[Push]:
    rate_limits.check("profile", actor_id)
    user_id = validate.ident(user_id)
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id, lock=True)
        if user_id == actor_id:
            raise Invalid()  # leaving is its own action
        target = s.exec(select(Participant).where(Participant.room_id == room.id,
                                                  Participant.user_id == user_id)).scalars().first()
        if target is None:
            raise NotFound()
        policy.require(me.role, "group.remove_member", room.kind, target.role)
        s.exec(delete(Participant).where(Participant.room_id == room.id, Participant.user_id == user_id))
        _log(s, room.id, actor_id, "remove", target_id=user_id)
        note = system_messages.write(s, room.id, "member_removed", actor=actor_id, target=user_id)
        # Zulip's split: the removed member loses the chat, the others see one member fewer.
        return [Push((user_id,), RemovedFromChat(room.id), evict=(user_id,)),
                Push(_members(s, room.id), MemberRemoved(room.id, user_id=user_id)), note]


def member_count(s, room_id: int) -> int:
    return s.exec(select(func.count()).select_from(Participant).where(Participant.room_id == room_id)).scalar_one()


def _members(s, room_id: int) -> tuple[int, ...]:
    return tuple(s.exec(select(Participant.user_id).where(Participant.room_id == room_id)
                        .order_by(Participant.user_id)).scalars().all())


def _log(s, room_id: int, actor_id: int, action: str, target_id: int | None = None,
         details: dict | None = None) -> None:
    s.add(GroupLog(room_id=room_id, actor_id=actor_id, target_id=target_id, action=action, details=details or {}))

