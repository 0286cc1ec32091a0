"""Messages: send (ordered, idempotent), history, edit, delete, reactions.

Every writer returns `(result, recipients, event)`: the caller pushes `event`
to `recipients` only after this module's transaction has committed.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import NamedTuple

import emoji as emoji_data
import psycopg
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from corpchat import db
from corpchat.config import settings
from corpchat.models import Message, MessageReaction, User
from corpchat.services import validate
from corpchat.services.access import access_message, access_room, is_blocked_between, member_ids
from corpchat.services.errors import Forbidden, Invalid, NotFound

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
CATCH_UP_LIMIT = 500
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_REACTIONS_PER_USER = 20


def check_text(value) -> str:
    if not isinstance(value, str):
        raise Invalid()
    if len(value) > settings.max_message_length:
        raise Invalid("err.message_too_long", max=settings.max_message_length)
    value = value.replace("\r\n", "\n").strip()
    if not value:
        raise Invalid("err.message_empty")
    return value


def check_client_id(value) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise Invalid()
    return value


def _ensure_may_write(s, actor_id: int, room) -> None:
    """In a private chat, a block in either direction stops every message (room: a Room or a row
    with `kind` and `private_key`)."""
    if room.kind == "private":
        other = [int(x) for x in room.private_key.split(":") if int(x) != actor_id]
        if other and is_blocked_between(s, actor_id, other[0]):
            raise Forbidden("err.blocked")


def _views(s, messages: list[Message]) -> list[dict]:
    """Messages as plain dicts, with sender names and reaction summaries (2 queries)."""
    if not messages:
        return []
    user_ids = {m.sender_id for m in messages if m.sender_id}
    reactions = defaultdict(list)
    rows = s.exec(
        select(MessageReaction.message_id, MessageReaction.reaction, MessageReaction.user_id)
        .where(MessageReaction.message_id.in_([m.id for m in messages]))
        .order_by(MessageReaction.id)
    ).all()
    for r in rows:
        reactions[r.message_id].append((r.reaction, r.user_id))
        user_ids.add(r.user_id)
    users = {
        u.id: u for u in s.exec(
            select(User.id, User.login, User.real_name, User.avatar_id).where(User.id.in_(user_ids))
        ).all()
    } if user_ids else {}
    return [_view(m, users, reactions.get(m.id, [])) for m in messages]


def _name(u) -> str:
    return (u.real_name or u.login) if u else ""


def _view(m: Message, users: dict, reactions: list[tuple[str, int]]) -> dict:
    grouped: dict[str, list[int]] = {}
    for emoji, uid in reactions:
        grouped.setdefault(emoji, []).append(uid)
    sender = users.get(m.sender_id)
    return {
        "id": m.id, "room_id": m.room_id, "seq": m.seq, "kind": m.kind, "text": m.text,
        "sender_id": m.sender_id or 0, "sender_name": _name(sender),
        "sender_avatar": sender.avatar_id if sender else None,
        "client_id": m.client_id or "",
        "created_at": m.created_at, "edited_at": m.edited_at,
        "reactions": [
            {"emoji": e, "user_ids": uids, "names": [_name(users.get(u)) for u in uids]}
            for e, uids in grouped.items()
        ],
    }


def send(actor_id: int, room_id, body, client_id) -> tuple[dict, list[int], bool]:
    """Store a text message; returns (message, recipients, created).

    The room row lock orders concurrent senders: seq = last_seq + 1 inside
    the same statement, so sequence numbers have no gaps or duplicates. A
    resend with the same client id returns the stored message (created=False).
    """
    for attempt in (1, 2):
        steps = _send_steps(actor_id, room_id, body, client_id, write_first=attempt == 1)
        try:
            with db.autocommit() as conn:
                result = _drive(steps, lambda sql, params: conn.exec_driver_sql(sql, params).first())
        except IntegrityError as exc:
            if attempt == 2 or not _client_id_race(exc.orig):
                raise
            continue
        return _existing(*result) if isinstance(result, _Resend) else result
    raise AssertionError("unreachable")


async def send_async(actor_id: int, room_id, body, client_id) -> tuple[dict, list[int], bool]:
    """`send` on the event loop's own connection (see db.async_autocommit); same checks, same SQL."""
    for attempt in (1, 2):
        steps = _send_steps(actor_id, room_id, body, client_id, write_first=attempt == 1)
        try:
            async with db.async_autocommit() as conn:
                result = await _drive_async(steps, conn)
        except psycopg.errors.UniqueViolation as exc:
            if attempt == 2 or not _client_id_race(exc):
                raise
            continue
        if isinstance(result, _Resend):
            return await asyncio.to_thread(_existing, *result)
        return result
    raise AssertionError("unreachable")


async def _drive_async(steps, conn):
    try:
        sql, params = next(steps)
        while True:
            sql, params = steps.send(await (await conn.execute(sql, params)).fetchone())
    except StopIteration as stop:
        return stop.value


def _client_id_race(exc) -> bool:
    """The client id is stored already: a resend (then the second attempt, checking first, finds
    it), or the same client id raced into another room (the room lock only orders one room):
    once the winner has committed, the retry sees it and answers like a sequential resend would."""
    return getattr(getattr(exc, "diag", None), "constraint_name", None) == "uq_messages_sender_client"


def _drive(steps, run):
    """Run a generator of (sql, params) steps, feeding each statement's first row back."""
    try:
        sql, params = next(steps)
        while True:
            sql, params = steps.send(run(sql, params))
    except StopIteration as stop:
        return stop.value


# Written for the driver itself (psycopg's %(name)s placeholders): the same text runs on
# SQLAlchemy's connection (exec_driver_sql) and on the async one.
# Why a refused or repeated send was not written (the common send needs only _SEND_WRITE).
_SEND_CHECK = """
SELECT r.kind, u.login, u.real_name, u.avatar_id,
       (SELECT m.id FROM messages m WHERE m.sender_id = %(actor)s AND m.client_id = %(cid)s) AS existing_id,
       (r.kind = 'private' AND EXISTS (
            SELECT 1 FROM participants o JOIN blocked_users b
              ON (b.blocker_id = %(actor)s AND b.blocked_id = o.user_id)
              OR (b.blocker_id = o.user_id AND b.blocked_id = %(actor)s)
            WHERE o.room_id = r.id AND o.user_id <> %(actor)s)) AS blocked
FROM rooms r
JOIN participants p ON p.room_id = r.id AND p.user_id = %(actor)s
JOIN users u ON u.id = %(actor)s
WHERE r.id = %(room)s"""
# ONE statement, run in autocommit: the room's row lock (taken by the UPDATE, which orders
# concurrent senders: seq = last_seq + 1) is held only inside PostgreSQL for the statement's
# own duration, never across a round trip to Python. Membership and blocks are checked under
# the lock; no row means refused. A stored client id fails the INSERT (uq_messages_sender_client)
# and with it the whole statement, so a resend never takes a seq.
_SEND_WRITE = """
WITH r AS (
    UPDATE rooms SET last_seq = last_seq + 1, last_message_at = %(now)s
    WHERE id = %(room)s
      AND EXISTS (SELECT 1 FROM participants WHERE room_id = %(room)s AND user_id = %(actor)s)
      AND (kind <> 'private' OR NOT EXISTS (
            SELECT 1 FROM participants o JOIN blocked_users b
              ON (b.blocker_id = %(actor)s AND b.blocked_id = o.user_id)
              OR (b.blocker_id = o.user_id AND b.blocked_id = %(actor)s)
            WHERE o.room_id = %(room)s AND o.user_id <> %(actor)s))
    RETURNING id, last_seq),
m AS (
    INSERT INTO messages (room_id, seq, sender_id, kind, text, client_id, created_at)
    SELECT r.id, r.last_seq, %(actor)s, 'text', %(body)s, %(cid)s, %(now)s FROM r
    RETURNING id, seq),
p AS (
    UPDATE participants
    SET hidden = false, last_read_seq = CASE WHEN user_id = %(actor)s THEN m.seq ELSE last_read_seq END
    FROM m
    WHERE room_id = %(room)s AND (hidden OR user_id = %(actor)s)
    RETURNING 1)
SELECT m.id, m.seq, u.login, u.real_name, u.avatar_id,
       (SELECT array_agg(user_id ORDER BY user_id) FROM participants WHERE room_id = %(room)s) AS members
FROM m JOIN users u ON u.id = %(actor)s"""


class _Resend(NamedTuple):
    message_id: int
    room_id: int


def _send_steps(actor_id: int, room_id, body, client_id, write_first: bool = True):
    """The send as statements to run (yields (sql, params), receives the first row of each);
    returns send's result, or a _Resend of a stored message. `write_first`: the common case
    in one statement, the check only to explain a refusal; else check first (a resend)."""
    body = check_text(body)
    client_id = check_client_id(client_id)
    room_id = validate.ident(room_id)
    params = {"actor": actor_id, "room": room_id, "cid": client_id}
    if not write_first:
        row = yield _SEND_CHECK, params
        _explain(row, refused=False)
        if row.existing_id is not None:
            return _Resend(row.existing_id, room_id)
    now = datetime.now(UTC)
    written = yield _SEND_WRITE, {**params, "body": body, "now": now}
    if written is None:  # refused: not a member (or no such room), or blocked
        _explain((yield _SEND_CHECK, params), refused=True)
        raise NotFound()
    view = {
        "id": written.id, "room_id": room_id, "seq": written.seq, "kind": "text", "text": body,
        "sender_id": actor_id, "sender_name": written.real_name or written.login,
        "sender_avatar": written.avatar_id,
        "client_id": client_id, "created_at": now, "edited_at": None, "reactions": [],
    }
    return view, list(written.members or []), True


def _explain(row, refused: bool) -> None:
    """Raise why a send may not be written (row: _SEND_CHECK's). `refused`: the write was just
    refused, yet the check passes: a block or a leave that came and went in between."""
    if row is None:
        raise NotFound()
    if row.blocked or (refused and row.kind == "private"):
        raise Forbidden("err.blocked")


def _existing(message_id: int, room_id: int) -> tuple[dict, list[int], bool]:
    """A resend of a stored message: the stored message, nothing new to deliver."""
    with db.session() as s:
        existing = s.get(Message, message_id)
        if existing.room_id != room_id:
            raise Invalid()
        return _views(s, [existing])[0], [], False


def _visible(actor_id: int, cleared_seq: int):
    return (Message.deleted_at.is_(None), Message.seq > cleared_seq,
            ~Message.hidden_for.any(actor_id))


def history(actor_id: int, room_id, before_seq=None, limit: int = PAGE_SIZE) -> tuple[list[dict], bool]:
    """A page of messages before `before_seq` (newest page when None), oldest first.

    Returns (messages, has_more_older).
    """
    if before_seq is not None:
        before_seq = validate.seq(before_seq)
    if type(limit) is not int or not 0 < limit <= MAX_PAGE_SIZE:
        raise Invalid()
    with db.session() as s:
        room, part = access_room(s, actor_id, room_id)
        stmt = select(Message).where(Message.room_id == room.id, *_visible(actor_id, part.cleared_seq))
        if before_seq is not None:
            stmt = stmt.where(Message.seq < before_seq)
        rows = list(s.exec(stmt.order_by(Message.seq.desc()).limit(limit + 1)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        return _views(s, rows), more


def after(actor_id: int, room_id, after_seq) -> list[dict]:
    """Everything visible after `after_seq`: what a reconnecting tab missed."""
    after_seq = validate.seq(after_seq)
    with db.session() as s:
        room, part = access_room(s, actor_id, room_id)
        rows = list(s.exec(
            select(Message).where(Message.room_id == room.id, Message.seq > after_seq,
                                  *_visible(actor_id, part.cleared_seq))
            .order_by(Message.seq).limit(CATCH_UP_LIMIT)
        ).scalars())
        return _views(s, rows)


def edit(actor_id: int, message_id, body) -> tuple[dict, list[int]]:
    body = check_text(body)
    with db.session() as s:
        message, room, _ = access_message(s, actor_id, message_id, lock=True)
        if message.sender_id != actor_id or message.kind != "text":
            raise Forbidden("err.not_editable")
        _ensure_may_write(s, actor_id, room)
        if message.text != body:
            message.text = body
            message.edited_at = datetime.now(UTC)
            s.add(message)
            s.flush()
        return _views(s, [message])[0], member_ids(s, room.id)


def delete_for_me(actor_id: int, message_id) -> dict:
    with db.session() as s:
        message, room, _ = access_message(s, actor_id, message_id, lock=True)
        s.exec(update(Message).where(Message.id == message.id)
               .values(hidden_for=func.array_append(Message.hidden_for, actor_id)))
        return {"id": message.id, "room_id": room.id, "seq": message.seq}


def delete_for_everyone(actor_id: int, message_id) -> tuple[dict, list[int]]:
    """The sender may; in groups the owner and admins may too."""
    with db.session() as s:
        message, room, part = access_message(s, actor_id, message_id, lock=True)
        moderator = room.kind == "group" and part.role in ("owner", "admin")
        if message.sender_id != actor_id and not moderator:
            raise Forbidden()
        s.exec(update(Message).where(Message.id == message.id)
               .values(deleted_at=datetime.now(UTC), text="", payload=None))
        s.exec(text("DELETE FROM message_reactions WHERE message_id = :m"), params={"m": message.id})
        return {"id": message.id, "room_id": room.id, "seq": message.seq}, member_ids(s, room.id)


def check_emoji(value) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 16 or not emoji_data.is_emoji(value):
        raise Invalid("err.reaction_invalid")
    return value


def toggle_reaction(actor_id: int, message_id, reaction) -> tuple[dict, list[int]]:
    """Add the reaction, or remove it if the actor already put it on the message.

    A user may put several different emoji on one message (as in Telegram
    Premium and Slack), up to MAX_REACTIONS_PER_USER.
    """
    reaction = check_emoji(reaction)
    with db.session() as s:
        message, room, _ = access_message(s, actor_id, message_id, lock=True)
        removed = s.exec(text(
            "DELETE FROM message_reactions WHERE message_id = :m AND user_id = :u AND reaction = :r"),
            params={"m": message.id, "u": actor_id, "r": reaction}).rowcount
        if not removed:
            mine = s.exec(select(func.count()).select_from(MessageReaction).where(
                MessageReaction.message_id == message.id, MessageReaction.user_id == actor_id)).scalar_one()
            if mine >= MAX_REACTIONS_PER_USER:
                raise Invalid()
            s.exec(insert(MessageReaction).values(message_id=message.id, user_id=actor_id, reaction=reaction)
                   .on_conflict_do_nothing())
        return _views(s, [message])[0], member_ids(s, room.id)
