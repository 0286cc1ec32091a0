"""Rooms: private chats, the chat list, people search, read marks."""

from __future__ import annotations

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from corpchat import db
from corpchat.models import Participant, Room, User
from corpchat.services import directory, rate_limits, validate
from corpchat.services.access import access_room
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.events import ChatHidden, ChatRead, Push
from corpchat.services.visibility import (
    blocked_either_way,
    blocked_either_way_sql,
    blocked_set,
    visible_message_sql,
)

CHAT_LIST_LIMIT = 500
UNREAD_CAP = 100  # counted up to this, shown as "99+"
SEARCH_LIMIT = 50


def private_key(a: int, b: int) -> str:
    lo, hi = sorted((a, b))
    return f"{lo}:{hi}"


def open_private(actor_id: int, other_id) -> int:
    """The private room of the pair, created on first use; it shows in the actor's list."""
    other_id = validate.ident(other_id)
    if other_id == actor_id:
        raise Invalid()
    rate_limits.check("open_chat", actor_id)
    with db.session() as s:
        if s.get(User, other_id) is None:
            raise NotFound()
        if blocked_either_way(s, actor_id, other_id):
            raise Forbidden("err.blocked")
        key = private_key(actor_id, other_id)
        s.exec(insert(Room).values(kind="private", private_key=key, created_by=actor_id)
               .on_conflict_do_nothing(index_elements=["private_key"]))
        room_id = s.exec(select(Room.id).where(Room.private_key == key)).scalar_one()
        # The other side sees the chat once a message arrives.
        for uid, hidden in ((actor_id, False), (other_id, True)):
            s.exec(insert(Participant).values(room_id=room_id, user_id=uid, role="member", hidden=hidden)
                   .on_conflict_do_nothing(index_elements=["room_id", "user_id"]))
        s.exec(update(Participant).where(Participant.room_id == room_id, Participant.user_id == actor_id)
               .values(hidden=False))
        return room_id


_CHAT_LIST_SQL = text("""
SELECT r.id, r.kind, r.name, r.avatar_id AS room_avatar, r.last_seq, p.last_read_seq, p.role,
       CASE WHEN :one_room THEN p.draft END AS draft,  -- only chat_row (opening a chat) needs it
       CASE WHEN :one_room THEN (SELECT count(*) FROM participants pm WHERE pm.room_id = r.id) END AS members,
       COALESCE(r.last_message_at, r.created_at) AS activity_at,
       o.id AS other_id, o.login AS other_login, o.real_name AS other_name,
       CASE WHEN blk.x IS NULL THEN o.avatar_id END AS other_avatar,  -- a block hides the avatar both ways
       (blk.x IS NOT NULL) AS blocked,
       lm.id AS lm_id, lm.seq AS lm_seq, lm.kind AS lm_kind, lm.text AS lm_text,
       lm.sender_id AS lm_sender, lm.created_at AS lm_at, lm.payload ->> 'name' AS lm_file_name,
       COALESCE(NULLIF(su.real_name, ''), su.login) AS lm_sender_name,
       CASE WHEN lm.kind = 'system' THEN lm.payload || jsonb_build_object(
           'names', (SELECT jsonb_object_agg(x.id::text, COALESCE(NULLIF(x.real_name, ''), x.login))
                     FROM users x WHERE x.id IN ((lm.payload ->> 'actor')::bigint, (lm.payload ->> 'target')::bigint)),
           'gender', (SELECT x.gender FROM users x WHERE x.id = (lm.payload ->> 'actor')::bigint))
       END AS lm_system,
       unread.n AS unread
FROM participants p
JOIN rooms r ON r.id = p.room_id
LEFT JOIN participants op ON r.kind = 'private' AND op.room_id = r.id AND op.user_id <> p.user_id
LEFT JOIN users o ON o.id = op.user_id
LEFT JOIN LATERAL (
    SELECT 1 AS x FROM blocked_users b WHERE {blocked} LIMIT 1) blk ON true
LEFT JOIN LATERAL (
    SELECT m.id, m.seq, m.kind, m.text, m.payload, m.sender_id, m.created_at FROM messages m
    WHERE m.room_id = r.id AND {visible_m}
    ORDER BY m.seq DESC LIMIT 1) lm ON true
LEFT JOIN users su ON su.id = lm.sender_id
LEFT JOIN LATERAL (
    SELECT count(*) AS n FROM (
        SELECT 1 FROM messages m2
        WHERE m2.room_id = r.id AND m2.seq > p.last_read_seq AND {visible_m2}
          AND m2.sender_id IS DISTINCT FROM p.user_id
        LIMIT :cap) u) unread ON true
WHERE p.user_id = :uid AND NOT p.hidden {extra}
ORDER BY activity_at DESC, r.id DESC
LIMIT :limit
""".replace("{blocked}", blocked_either_way_sql("p.user_id", "o.id"))
   .replace("{visible_m}", visible_message_sql("m", "p"))
   .replace("{visible_m2}", visible_message_sql("m2", "p")))


def _chat_rows(s, actor_id: int, room_id: int | None = None) -> list[dict]:
    extra = "AND r.id = :room_id" if room_id is not None else ""
    sql = text(_CHAT_LIST_SQL.text.replace("{extra}", extra))
    params = {"uid": actor_id, "cap": UNREAD_CAP, "limit": CHAT_LIST_LIMIT, "one_room": room_id is not None}
    if room_id is not None:
        params["room_id"] = room_id
    return [dict(r._mapping) for r in s.exec(sql, params=params)]


def chat_list(actor_id: int) -> list[dict]:
    """Every visible chat of the user, newest activity first, in one query."""
    with db.session() as s:
        return _chat_rows(s, actor_id)


def chat_row(actor_id: int, room_id) -> dict | None:
    room_id = validate.ident(room_id)
    with db.session() as s:
        rows = _chat_rows(s, actor_id, room_id)
        return rows[0] if rows else None


def search_users(actor_id: int, query) -> list[dict]:
    query = validate.text(query, max_len=100).strip()
    with db.session() as s:
        stmt = select(User.id, User.login, User.real_name, User.avatar_id).where(User.id != actor_id)
        if query:
            like = validate.like_pattern(query)
            stmt = stmt.where(or_(User.login.ilike(like), User.real_name.ilike(like)))
        if not directory.everyone_visible():  # the people I share a chat with, or an exact login
            stmt = stmt.where(or_(User.id.in_(directory.room_mates(s, actor_id) or {0}),
                                  func.lower(User.login) == query.lower()))
        rows = s.exec(stmt.order_by(func.lower(User.login)).limit(SEARCH_LIMIT)).all()
        blocked = blocked_set(s, actor_id)
        return [
            {"id": r.id, "login": r.login, "name": r.real_name or r.login,
             "avatar_id": None if r.id in blocked else r.avatar_id}
            for r in rows
        ]


def mark_read(actor_id: int, room_id, seq) -> Push:
    """Move the read mark forward (never back, never past the last message); my other tabs are told."""
    seq = validate.seq(seq)
    with db.session() as s:
        room, part = access_room(s, actor_id, room_id)
        new = max(part.last_read_seq, min(seq, room.last_seq))
        if new != part.last_read_seq:
            s.exec(update(Participant)
                   .where(Participant.room_id == room.id, Participant.user_id == actor_id)
                   .values(last_read_seq=func.greatest(Participant.last_read_seq, new)))
        return Push((actor_id,), ChatRead(room.id, new))


def delete_chat_for_me(actor_id: int, room_id) -> Push:
    """Clear and hide the chat for the actor; every tab of theirs closes it."""
    with db.session() as s:
        room, _ = access_room(s, actor_id, room_id, lock=True)
        s.exec(update(Participant)
               .where(Participant.room_id == room.id, Participant.user_id == actor_id)
               .values(cleared_seq=room.last_seq, last_read_seq=room.last_seq, hidden=True))
        return Push((actor_id,), ChatHidden(room.id), evict=(actor_id,))


def mark_read_batch(marks: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Server-internal: (user, room, seq) read marks of live-delivered messages.

    Only moves marks forward, only for existing participants, never past the room's last seq.
    Returns the (user, room, seq) marks that moved (the user's other tabs are told).
    """
    if not marks:
        return []
    with db.session() as s:
        return [tuple(r) for r in s.exec(text("""
            UPDATE participants p SET last_read_seq = LEAST(v.seq, r.last_seq)
            FROM (SELECT unnest(CAST(:users AS bigint[])) AS user_id,
                         unnest(CAST(:rooms AS bigint[])) AS room_id,
                         unnest(CAST(:seqs AS bigint[])) AS seq) v, rooms r
            WHERE p.user_id = v.user_id AND p.room_id = v.room_id AND r.id = v.room_id
              AND p.last_read_seq < LEAST(v.seq, r.last_seq)
            RETURNING p.user_id, p.room_id, p.last_read_seq
        """), params={"users": [m[0] for m in marks], "rooms": [m[1] for m in marks],
                      "seqs": [m[2] for m in marks]})]
