"""Messages: send (ordered, idempotent), history, edit, delete, reactions.

Every writer returns `(result, recipients, event)`: the caller pushes `event`
to `recipients` only after this module's transaction has committed.
"""

from __future__ import annotations

import asyncio
import re
import weakref
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


class _Send(NamedTuple):
    actor: int
    room: int
    body: str
    cid: str


def _checked(actor_id: int, room_id, body, client_id) -> _Send:
    return _Send(actor_id, validate.ident(room_id), check_text(body), check_client_id(client_id))


def send(actor_id: int, room_id, body, client_id) -> tuple[dict, list[int], bool]:
    """Store a text message; returns (message, recipients, created).

    The room row lock orders concurrent senders: seq = last_seq + 1 inside
    the same statement, so sequence numbers have no gaps or duplicates. A
    resend with the same client id returns the stored message (created=False).
    """
    one = _checked(actor_id, room_id, body, client_id)
    try:
        with db.autocommit() as conn:
            stored = _drive(_write_steps([one]), lambda sql, params: conn.exec_driver_sql(sql, params).all())
    except IntegrityError as exc:
        if not _client_id_race(exc.orig):
            raise
        stored = {}
    if one in stored:
        return stored[one]
    with db.autocommit() as conn:
        resend = _drive(_unwritten_steps(one), lambda sql, params: conn.exec_driver_sql(sql, params).all())
    return _existing(*resend)


async def send_async(actor_id: int, room_id, body, client_id) -> tuple[dict, list[int], bool]:
    """`send` on the event loop's own connection (see db.async_autocommit); same checks, same SQL.

    The sends to one room that arrive while its previous statement runs are written together
    in the next one: one row lock and one commit for all of them. Each room's sends serialize
    on its row lock anyway, and with 20 concurrent senders the hand-over of that lock from one
    PostgreSQL backend to the next (a wake-up each) held every message 7 ms on average.
    """
    one = _checked(actor_id, room_id, body, client_id)
    loop = asyncio.get_running_loop()
    queues = _queues.setdefault(loop, {})
    queue = queues.get(one.room)
    if queue is None:
        queue = queues[one.room] = _RoomQueue()
    done = loop.create_future()
    queue.waiting.append((one, done))
    if queue.task is None:
        queue.task = loop.create_task(_write_room(one.room, queue, queues))
    return await done


MAX_BATCH = 64  # sends written in one statement


class _RoomQueue:
    __slots__ = ("waiting", "task")

    def __init__(self):
        self.waiting: list[tuple[_Send, asyncio.Future]] = []
        self.task: asyncio.Task | None = None


_queues: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {room id: _RoomQueue}
_checking: set[asyncio.Task] = set()


async def _write_room(room_id: int, queue: _RoomQueue, queues: dict) -> None:
    try:
        while queue.waiting:
            batch, queue.waiting = _take(queue.waiting)
            try:
                await _write_batch(batch)  # answers every send of the batch, errors included
            except BaseException:  # cancelled (the loop is closing): the senders must not wait forever
                _fail(batch, ConnectionError("send cancelled"))
                raise
    finally:
        queue.task = None
        if queue.waiting:  # cancelled with sends left
            _fail(queue.waiting, ConnectionError("send cancelled"))
            queue.waiting = []
        if queues.get(room_id) is queue:
            del queues[room_id]


def _take(waiting: list) -> tuple[list, list]:
    """Up to MAX_BATCH sends in arrival order; a second send with the same client id (a resend
    racing its original) waits for the next statement, which then finds the first one stored."""
    batch, rest, keys = [], [], set()
    for item in waiting:
        key = (item[0].actor, item[0].cid)
        if len(batch) < MAX_BATCH and key not in keys:
            keys.add(key)
            batch.append(item)
        else:
            rest.append(item)
    return batch, rest


def _fail(batch: list, exc: Exception) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(exc)


async def _write_batch(batch: list[tuple[_Send, asyncio.Future]]) -> None:
    try:
        async with db.async_autocommit() as conn:
            stored = await _drive_async(_write_steps([one for one, _ in batch]), conn)
    except psycopg.errors.UniqueViolation as exc:
        if not _client_id_race(exc):
            _fail(batch, exc)
            return
        if len(batch) > 1:  # a client id stored meanwhile (another worker): the rest must not fail
            for item in batch:
                await _write_batch([item])
            return
        stored = {}
    except Exception as exc:  # database down...: every sender gets the error (then offers Retry)
        _fail(batch, exc)
        return
    for one, done in batch:
        if done.done():
            continue
        if one in stored:
            done.set_result(stored[one])
        else:  # refused or a resend: asked apart, so the room's next statement need not wait for it
            task = asyncio.ensure_future(_unwritten(one, done))
            _checking.add(task)
            task.add_done_callback(_checking.discard)


async def _unwritten(one: _Send, done: asyncio.Future) -> None:
    try:
        async with db.async_autocommit() as conn:
            resend = await _drive_async(_unwritten_steps(one), conn)
        result = await asyncio.to_thread(_existing, *resend)
    except Exception as exc:
        if not done.done():
            done.set_exception(exc)
        return
    if not done.done():
        done.set_result(result)


async def _drive_async(steps, conn):
    try:
        sql, params = next(steps)
        while True:
            sql, params = steps.send(await (await conn.execute(sql, params)).fetchall())
    except StopIteration as stop:
        return stop.value


def _client_id_race(exc) -> bool:
    """The client id is stored already: a resend (then the check finds it), or the same client
    id raced into another room (the room lock only orders one room): once the winner has
    committed, the check sees it and answers like a sequential resend would."""
    return getattr(getattr(exc, "diag", None), "constraint_name", None) == "uq_messages_sender_client"


def _drive(steps, run):
    """Run a generator of (sql, params) steps, feeding each statement's rows back."""
    try:
        sql, params = next(steps)
        while True:
            sql, params = steps.send(run(sql, params))
    except StopIteration as stop:
        return stop.value


# Written for the driver itself (psycopg's %(name)s placeholders): the same text runs on
# SQLAlchemy's connection (exec_driver_sql) and on the async one.
# Why a send was not written (refused, or a resend).
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
# ONE statement for a batch of sends to one room, run in autocommit: the room's row lock (taken
# by the UPDATE, which orders concurrent senders: seqs last_seq + 1 .. last_seq + n) is held only
# inside PostgreSQL for the statement's own duration, never across a round trip to Python.
# A send whose sender is not a member, or whose client id is stored already, is left out (no
# row: `_SEND_CHECK` says why); a private room with a block between its two members takes none.
# A client id stored meanwhile by another transaction fails the INSERT
# (uq_messages_sender_client) and with it the whole statement, so a resend never takes a seq.
_SEND_WRITE = """
WITH i AS (
    SELECT t.actor, t.body, t.cid, t.n
    FROM unnest(%(actors)s::bigint[], %(bodies)s::text[], %(cids)s::text[])
         WITH ORDINALITY AS t(actor, body, cid, n)
    WHERE EXISTS (SELECT 1 FROM participants WHERE room_id = %(room)s AND user_id = t.actor)
      AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = t.actor AND client_id = t.cid)),
r AS (
    UPDATE rooms SET last_seq = last_seq + (SELECT count(*) FROM i), last_message_at = %(now)s
    WHERE id = %(room)s AND EXISTS (SELECT 1 FROM i)
      AND (kind <> 'private' OR NOT EXISTS (
            SELECT 1 FROM participants a
            JOIN participants o ON o.room_id = a.room_id AND o.user_id <> a.user_id
            JOIN blocked_users b ON b.blocker_id = a.user_id AND b.blocked_id = o.user_id
            WHERE a.room_id = %(room)s))
    RETURNING id, last_seq),
m AS (
    INSERT INTO messages (room_id, seq, sender_id, kind, text, client_id, created_at)
    SELECT r.id, r.last_seq - (SELECT count(*) FROM i) + row_number() OVER (ORDER BY i.n),
           i.actor, 'text', i.body, i.cid, %(now)s
    FROM r, i
    RETURNING id, seq, sender_id, client_id),
p AS (
    UPDATE participants pa
    SET hidden = false,
        last_read_seq = coalesce((SELECT max(seq) FROM m WHERE m.sender_id = pa.user_id), pa.last_read_seq)
    WHERE pa.room_id = %(room)s AND EXISTS (SELECT 1 FROM m)
      AND (pa.hidden OR pa.user_id IN (SELECT sender_id FROM m))
    RETURNING 1)
SELECT m.id, m.seq, m.sender_id, m.client_id, u.login, u.real_name, u.avatar_id,
       (SELECT array_agg(user_id ORDER BY user_id) FROM participants WHERE room_id = %(room)s) AS members
FROM m JOIN users u ON u.id = m.sender_id
ORDER BY m.seq"""


class _Resend(NamedTuple):
    message_id: int
    room_id: int


def _write_steps(sends: list[_Send]):
    """The sends (all to one room, distinct client ids) as one statement (yields (sql, params),
    receives its rows); returns {send: send's result} for those stored."""
    room_id, now = sends[0].room, datetime.now(UTC)
    rows = yield _SEND_WRITE, {
        "room": room_id, "now": now, "actors": [one.actor for one in sends],
        "bodies": [one.body for one in sends], "cids": [one.cid for one in sends]}
    by_key = {(one.actor, one.cid): one for one in sends}
    stored = {}
    for row in rows:
        one = by_key[(row.sender_id, row.client_id)]
        stored[one] = ({
            "id": row.id, "room_id": room_id, "seq": row.seq, "kind": "text", "text": one.body,
            "sender_id": one.actor, "sender_name": row.real_name or row.login,
            "sender_avatar": row.avatar_id,
            "client_id": one.cid, "created_at": now, "edited_at": None, "reactions": [],
        }, list(row.members or []), True)
    return stored


def _unwritten_steps(one: _Send):
    """Why a send was not written: raises the refusal, or returns the _Resend of the stored one."""
    rows = yield _SEND_CHECK, {"actor": one.actor, "room": one.room, "cid": one.cid}
    row = rows[0] if rows else None
    _explain(row, refused=False)
    if row.existing_id is not None:
        return _Resend(row.existing_id, one.room)
    _explain(row, refused=True)
    raise NotFound()


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
