"""Reading a group's audit log: the owner and admins only, newest first, a page at a time,
filtered by action and by person (as actor or target). Rows carry ids and values; the page
renders each in the reader's language (corpchat/system_views.py `log_text`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from corpchat import db
from corpchat.models import GroupLog, User
from corpchat.models.tables import GROUP_ACTIONS
from corpchat.services import policy, validate
from corpchat.services.access import access_room
from corpchat.services.errors import Invalid

PAGE = 50


@dataclass(frozen=True)
class Entry:
    id: int
    action: str
    actor_id: int | None
    actor: str
    target_id: int | None
    target: str
    old: str
    new: str
    at: datetime
    actor_gender: str = "unspecified"  # the verb's form in uk/ru


def read(actor_id: int, room_id, before_id=None, action=None, person=None, limit: int = PAGE) -> list[Entry]:
    if before_id is not None:
        before_id = validate.ident(before_id)
    if action is not None and action not in GROUP_ACTIONS:
        raise Invalid()
    if person is not None:
        person = validate.ident(person)
    with db.session() as s:
        room, me = access_room(s, actor_id, room_id)
        policy.require(me.role, "group.audit_log.read", room.kind)
        q = select(GroupLog).where(GroupLog.room_id == room.id)
        if before_id is not None:
            q = q.where(GroupLog.id < before_id)
        if action is not None:
            q = q.where(GroupLog.action == action)
        if person is not None:
            q = q.where(or_(GroupLog.actor_id == person, GroupLog.target_id == person))
        rows = s.exec(q.order_by(GroupLog.id.desc()).limit(min(max(1, limit), PAGE))).scalars().all()
        ids = {u for r in rows for u in (r.actor_id, r.target_id) if u}
        users = {u.id: u for u in s.exec(
            select(User.id, User.login, User.real_name, User.gender).where(User.id.in_(ids))).all()} if ids else {}

    def name(uid) -> str:
        u = users.get(uid)
        return (u.real_name or u.login) if u else ""

    return [Entry(r.id, r.action, r.actor_id, name(r.actor_id), r.target_id, name(r.target_id),
                  str((r.details or {}).get("old") or ""), str((r.details or {}).get("new") or ""), r.created_at,
                  getattr(users.get(r.actor_id), "gender", None) or "unspecified") for r in rows]
