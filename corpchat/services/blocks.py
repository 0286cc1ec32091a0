"""Blocking another user, on the blocked_users table.

Blocking is idempotent (a second click, or two tabs, change nothing) and
both users are told (BlockChanged, which carries no profile data): each must
drop the other's avatar and status at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from corpchat import db
from corpchat.services import rate_limits, validate
from corpchat.services.errors import Invalid, NotFound
from corpchat.services.events import BlockChanged, Push


@dataclass(frozen=True)
class BlockedEntry:
    user_id: int
    login: str
    name: str
    blocked_at: datetime


def block(actor_id: int, user_id) -> Push | None:
    user_id = _other(actor_id, user_id)
    rate_limits.check("profile", actor_id)
    with db.session() as s:
        _require_user(s, user_id)
        # ON CONFLICT: a concurrent second block is a no-op, not an error.
        inserted = s.exec(text(
            "INSERT INTO blocked_users (blocker_id, blocked_id) VALUES (:a, :b) "
            "ON CONFLICT DO NOTHING RETURNING 1"), params={"a": actor_id, "b": user_id}).first()
    return _change(inserted is not None, actor_id, user_id, active=True)


def unblock(actor_id: int, user_id) -> Push | None:
    user_id = _other(actor_id, user_id)
    rate_limits.check("profile", actor_id)
    with db.session() as s:
        _require_user(s, user_id)
        deleted = s.exec(text(
            "DELETE FROM blocked_users WHERE blocker_id = :a AND blocked_id = :b RETURNING 1"),
            params={"a": actor_id, "b": user_id}).first()
    return _change(deleted is not None, actor_id, user_id, active=False)


def block_state(actor_id: int) -> tuple[set[int], set[int]]:
    """(users blocked either way with the actor, users the actor blocked): what the page hides
    and where it offers "Unblock"."""
    with db.session() as s:
        return block_state_in(s, actor_id)


def block_state_in(s, actor_id: int) -> tuple[set[int], set[int]]:
    rows = s.exec(text(
        "SELECT blocker_id, blocked_id FROM blocked_users WHERE blocker_id = :a OR blocked_id = :a"),
        params={"a": actor_id}).all()
    either = {r.blocked_id if r.blocker_id == actor_id else r.blocker_id for r in rows}
    return either, {r.blocked_id for r in rows if r.blocker_id == actor_id}


def blocked_by_me(actor_id: int) -> list[BlockedEntry]:
    """The actor's own block list (not who blocked the actor: that stays private)."""
    with db.session() as s:
        rows = s.exec(text(
            "SELECT u.id, u.login, u.real_name, b.created_at FROM blocked_users b "
            "JOIN users u ON u.id = b.blocked_id WHERE b.blocker_id = :a "
            "ORDER BY lower(u.login)"), params={"a": actor_id}).all()
    return [BlockedEntry(r.id, r.login, r.real_name or r.login, r.created_at) for r in rows]


def _other(actor_id: int, user_id) -> int:
    user_id = validate.ident(user_id)
    if user_id == actor_id:
        raise Invalid("err.block_self")
    return user_id


def _require_user(s, user_id: int) -> None:
    if s.exec(text("SELECT 1 FROM users WHERE id = :u"), params={"u": user_id}).first() is None:
        raise NotFound()


def _change(changed: bool, actor_id: int, user_id: int, *, active: bool) -> Push | None:
    """The pair's tabs re-render each other; nobody else is told (None: nothing changed)."""
    if not changed:
        return None
    return Push((actor_id, user_id), BlockChanged(blocker=actor_id, blocked=user_id, active=active))
