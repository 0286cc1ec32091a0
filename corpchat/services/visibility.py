"""Who may see what: each rule written once (blocks, message visibility, audiences).

Three forms of a rule live side by side here and nowhere else: a SQL fragment
for the hand-written statements (send, chat list), an ORM clause for SQLModel
queries, and a Python predicate for rows already loaded.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select, text

from corpchat.models import BlockedUser, Message, Participant


# ----- blocks: either user blocked the other ----------------------------------
def blocked_either_way_sql(a: str, b: str, alias: str = "b") -> str:
    """SQL condition on `blocked_users {alias}`: a blocked b or b blocked a (a, b: SQL expressions)."""
    return (f"(({alias}.blocker_id = {a} AND {alias}.blocked_id = {b}) "
            f"OR ({alias}.blocker_id = {b} AND {alias}.blocked_id = {a}))")


def blocked_either_way(s, a: int, b: int) -> bool:
    return s.exec(
        select(BlockedUser.blocker_id).where(
            or_(and_(BlockedUser.blocker_id == a, BlockedUser.blocked_id == b),
                and_(BlockedUser.blocker_id == b, BlockedUser.blocked_id == a))
        ).limit(1)
    ).first() is not None


def blocked_set(s, user_id: int) -> set[int]:
    """Users hidden from `user_id` (and from whom `user_id` is hidden) by a block either way."""
    rows = s.exec(text(
        "SELECT blocked_id FROM blocked_users WHERE blocker_id = :u "
        "UNION SELECT blocker_id FROM blocked_users WHERE blocked_id = :u"), params={"u": user_id})
    return {r[0] for r in rows}


# ----- messages: visible to a viewer ------------------------------------------------
def visible_message_sql(m: str, p: str) -> str:
    """SQL condition: message `{m}` is visible to participant row `{p}` (not deleted for
    everyone, not before the viewer cleared the chat, not deleted for the viewer)."""
    return f"{m}.deleted_at IS NULL AND {m}.seq > {p}.cleared_seq AND NOT ({p}.user_id = ANY({m}.hidden_for))"


def visible_message_clauses(viewer_id: int, cleared_seq: int) -> tuple:
    """The same rule as ORM clauses on Message."""
    return (Message.deleted_at.is_(None), Message.seq > cleared_seq, ~Message.hidden_for.any(viewer_id))


def message_visible(message, viewer_id: int, cleared_seq: int) -> bool:
    """The same rule for a loaded Message."""
    return (message.deleted_at is None and message.seq > cleared_seq
            and viewer_id not in (message.hidden_for or []))


# ----- audiences: who is told about a change ---------------------------------------
def room_members(s, room_id: int) -> tuple[int, ...]:
    return tuple(s.exec(select(Participant.user_id).where(Participant.room_id == room_id)).scalars())


# A private chat counts once it holds a message: opening one (open_user) costs nothing, and
# made anyone a contact who then got every profile change pushed.
_CONVERSATION = "(r.kind <> 'private' OR r.last_seq > 0)"


def contacts(s, user_id: int) -> set[int]:
    """Everyone who shares a group, or a private chat with a message in it, with the user."""
    rows = s.exec(text(
        "SELECT DISTINCT o.user_id FROM participants p JOIN rooms r ON r.id = p.room_id "
        "JOIN participants o ON o.room_id = p.room_id "
        f"WHERE p.user_id = :u AND o.user_id <> :u AND {_CONVERSATION}"), params={"u": user_id})
    return {r[0] for r in rows}


def profile_watchers(s, user_id: int) -> tuple[int, ...]:
    """Who sees this user's profile and avatar change live: contacts (everyone sharing a room)
    minus blocks either way."""
    return tuple(sorted(contacts(s, user_id) - blocked_set(s, user_id)))


def presence_watchers(s, user_id: int) -> tuple[int, ...]:
    """Who is told when this user comes online or goes: private-chat partners minus blocks either
    way (the chat list and header show their status). Presence is the busiest event there is;
    group co-members join this audience with the groups' member lists."""
    rows = s.exec(text(
        "SELECT o.user_id FROM participants p JOIN rooms r ON r.id = p.room_id AND r.kind = 'private' "
        "JOIN participants o ON o.room_id = p.room_id AND o.user_id <> :u "
        f"WHERE p.user_id = :u AND {_CONVERSATION}"), params={"u": user_id})
    return tuple(sorted({r[0] for r in rows} - blocked_set(s, user_id)))
