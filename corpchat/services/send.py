"""Sending a message: ordered (per-room seq), idempotent (per-sender client id), batched.

Production sends go through `send_async` on the event loop's own connection;
`send_sync` runs the same statement through SQLAlchemy for tests and scripts.
Both answer `Sent(message, push)`: `push` is None for a resend of a stored
message (nothing new to tell anyone).
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from datetime import UTC, datetime
from typing import NamedTuple

import psycopg
from sqlalchemy.exc import IntegrityError

from corpchat import db
from corpchat.config import settings
from corpchat.models import Message
from corpchat.services import rate_limits, validate
from corpchat.services.errors import Conflict, Forbidden, Invalid, NotFound
from corpchat.services.events import MessageSent, Push
from corpchat.services.message_views import message_dict, views
from corpchat.services.visibility import blocked_either_way_sql

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A message that carries a file (messages.payload = files.FileInfo.payload()); its text is the caption.
FILE_MESSAGE_KINDS = ("file", "voice", "video")


class Sent(NamedTuple):
    message: dict
    push: Push | None  # None: a resend, nothing new to deliver


def check_text(value) -> str:
    if not isinstance(value, str):
        raise Invalid()
    if len(value) > settings.max_message_length:
        raise Invalid("err.message_too_long", max=settings.max_message_length)
    value = value.replace("\r\n", "\n").strip()
    if not value:
        raise Invalid("err.message_empty")
    return value


def check_caption(value) -> str:
    """A file message's caption: like a text message's body, but it may be empty."""
    if not isinstance(value, str):
        raise Invalid()
    if len(value) > settings.max_message_length:
        raise Invalid("err.message_too_long", max=settings.max_message_length)
    return value.replace("\r\n", "\n").strip()


def check_client_id(value) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise Invalid()
    return value




class _Send(NamedTuple):
    actor: int
    room: int
    body: str
    cid: str
    kind: str = "text"
    payload: str | None = None  # JSON text: a _Send is a dict key, so it must stay hashable
    file_id: str | None = None


def _checked(actor_id: int, room_id, body, client_id, kind="text", payload=None) -> _Send:
    room_id, client_id = validate.ident(room_id), check_client_id(client_id)
    if kind == "text" and payload is None:
        return _Send(actor_id, room_id, check_text(body), client_id)
    # The payload comes from our own code (files.FileInfo.payload()), never from a client; the
    # statement still checks that the sender owns the file it names.
    if kind not in FILE_MESSAGE_KINDS or not isinstance(payload, dict) or not isinstance(payload.get("file_id"), str):
        raise Invalid()
    return _Send(actor_id, room_id, check_caption(body), client_id, kind, json.dumps(payload), payload["file_id"])


def send_sync(actor_id: int, room_id, body, client_id, kind="text", payload=None) -> Sent:
    """For tests and scripts: `send_async` through a SQLAlchemy connection.

    The room row lock orders concurrent senders: seq = last_seq + 1 inside
    the same statement, so sequence numbers have no gaps or duplicates. A
    resend with the same client id returns the stored message (push None).
    """
    one = _checked(actor_id, room_id, body, client_id, kind, payload)
    for _ in range(RETRIES + 1):
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
            why = _drive(_unwritten_steps(one), lambda sql, params: conn.exec_driver_sql(sql, params).all())
        if isinstance(why, _Resend):
            return _existing(*why)
    raise Conflict()


async def send_async(actor_id: int, room_id, body, client_id, kind="text", payload=None) -> Sent:
    """Store a message on the event loop's own connection (see db.async_autocommit): a text, or
    a file/voice/video message whose `payload` is `files.FileInfo.payload()` of a file the sender
    uploaded (`body` is then its caption, possibly empty).

    The sends to one room that arrive while its previous statement runs are written together
    in the next one: one row lock and one commit for all of them. Each room's sends serialize
    on its row lock anyway, and with 20 concurrent senders the hand-over of that lock from one
    PostgreSQL backend to the next (a wake-up each) held every message 7 ms on average.
    """
    one = _checked(actor_id, room_id, body, client_id, kind, payload)
    rate_limits.check("send", actor_id)
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


async def drain() -> None:
    """Wait for this loop's room writers to finish what is queued (before its pool closes)."""
    queues = _queues.get(asyncio.get_running_loop(), {})
    tasks = [q.task for q in list(queues.values()) if q.task is not None]
    tasks += [t for t in _checking if t.get_loop() is asyncio.get_running_loop()]
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


db.before_pool_close(drain)


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


async def _write_batch(batch: list[tuple[_Send, asyncio.Future]], tries: int = 0) -> None:
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
            task = asyncio.ensure_future(_unwritten(one, done, tries))
            _checking.add(task)
            task.add_done_callback(_checking.discard)


async def _unwritten(one: _Send, done: asyncio.Future, tries: int = 0) -> None:
    try:
        async with db.async_autocommit() as conn:
            why = await _drive_async(_unwritten_steps(one), conn)
        if isinstance(why, _Retry):
            if tries >= RETRIES:
                raise Conflict()
            await _write_batch([(one, done)], tries + 1)
            return
        result = await asyncio.to_thread(_existing, *why)
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
            SELECT 1 FROM participants o JOIN blocked_users b ON {blocked_actor}
            WHERE o.room_id = r.id AND o.user_id <> %(actor)s)) AS blocked,
       (%(fid)s::text IS NULL OR EXISTS (
            SELECT 1 FROM files f WHERE f.id = %(fid)s AND f.owner_id = %(actor)s)) AS file_ok
FROM rooms r
JOIN participants p ON p.room_id = r.id AND p.user_id = %(actor)s
JOIN users u ON u.id = %(actor)s
WHERE r.id = %(room)s""".replace("{blocked_actor}", blocked_either_way_sql("%(actor)s", "o.user_id"))
# ONE statement for a batch of sends to one room, run in autocommit: the room's row lock (taken
# by the UPDATE, which orders concurrent senders: seqs last_seq + 1 .. last_seq + n) is held only
# inside PostgreSQL for the statement's own duration, never across a round trip to Python.
# A send whose sender is not a member, or whose client id is stored already, or that names a
# file its sender does not own (or that is gone), is left out (no row: `_SEND_CHECK` says why).
# The file row is taken FOR SHARE: files.discard/release lock it FOR UPDATE and then look for a
# message referring to it, so either this statement waits and finds the row deleted, or they wait
# and find this message. A private room with a block between its two members takes none.
# Membership (who may send, who gets the message) is read in the statement's snapshot, which a
# membership change committed while the statement waited for the room's lock is not in: `lk`
# locks the room and reads its latest members_epoch (bumped under that lock by every change);
# if it differs from the snapshot's, nothing is written and the send is retried (`_Retry`).
# Without it a removed member's message landed after the removal's system line, and a message
# sent just after a removal went to the removed member (tests/unit/test_races.py).
# A client id stored meanwhile by another transaction fails the INSERT
# (uq_messages_sender_client) and with it the whole statement, so a resend never takes a seq.
_SEND_WRITE = """
WITH lk AS (SELECT members_epoch FROM rooms WHERE id = %(room)s FOR UPDATE),
i AS (
    SELECT t.actor, t.body, t.cid, t.kind, t.payload::jsonb AS payload, t.n
    FROM unnest(%(actors)s::bigint[], %(bodies)s::text[], %(cids)s::text[], %(kinds)s::text[],
                %(payloads)s::text[])
         WITH ORDINALITY AS t(actor, body, cid, kind, payload, n)
    WHERE EXISTS (SELECT 1 FROM lk WHERE members_epoch = (SELECT members_epoch FROM rooms WHERE id = %(room)s))
      AND EXISTS (SELECT 1 FROM participants WHERE room_id = %(room)s AND user_id = t.actor)
      AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = t.actor AND client_id = t.cid)
      AND (t.payload IS NULL OR EXISTS (
            SELECT 1 FROM files f WHERE f.id = t.payload::jsonb ->> 'file_id' AND f.owner_id = t.actor
            FOR SHARE))),
r AS (
    UPDATE rooms SET last_seq = last_seq + (SELECT count(*) FROM i), last_message_at = %(now)s
    WHERE id = %(room)s AND EXISTS (SELECT 1 FROM i)
      AND (kind <> 'private' OR NOT EXISTS (
            SELECT 1 FROM participants a
            JOIN participants o ON o.room_id = a.room_id AND o.user_id > a.user_id
            JOIN blocked_users b ON {blocked_pair}
            WHERE a.room_id = %(room)s))
    RETURNING id, last_seq),
m AS (
    INSERT INTO messages (room_id, seq, sender_id, kind, text, payload, client_id, created_at)
    SELECT r.id, r.last_seq - (SELECT count(*) FROM i) + row_number() OVER (ORDER BY i.n),
           i.actor, i.kind, i.body, i.payload, i.cid, %(now)s
    FROM r, i
    RETURNING id, seq, sender_id, client_id),
p AS (
    UPDATE participants pa
    SET hidden = false,
        last_read_seq = coalesce((SELECT max(seq) FROM m WHERE m.sender_id = pa.user_id), pa.last_read_seq),
        draft = CASE WHEN pa.user_id IN (SELECT sender_id FROM m) THEN '' ELSE pa.draft END
    WHERE pa.room_id = %(room)s AND EXISTS (SELECT 1 FROM m)
      AND (pa.hidden OR pa.user_id IN (SELECT sender_id FROM m))
    RETURNING 1)
SELECT m.id, m.seq, m.sender_id, m.client_id, u.login, u.real_name, u.avatar_id,
       (SELECT array_agg(user_id ORDER BY user_id) FROM participants WHERE room_id = %(room)s) AS members
FROM m JOIN users u ON u.id = m.sender_id
ORDER BY m.seq""".replace("{blocked_pair}", blocked_either_way_sql("a.user_id", "o.user_id"))


class _Resend(NamedTuple):
    message_id: int
    room_id: int


def _write_steps(sends: list[_Send]):
    """The sends (all to one room, distinct client ids) as one statement (yields (sql, params),
    receives its rows); returns {send: send's result} for those stored."""
    room_id, now = sends[0].room, datetime.now(UTC)
    rows = yield _SEND_WRITE, {
        "room": room_id, "now": now, "actors": [one.actor for one in sends],
        "bodies": [one.body for one in sends], "cids": [one.cid for one in sends],
        "kinds": [one.kind for one in sends], "payloads": [one.payload for one in sends]}
    by_key = {(one.actor, one.cid): one for one in sends}
    stored = {}
    for row in rows:
        one = by_key[(row.sender_id, row.client_id)]
        message = message_dict(id=row.id, room_id=room_id, seq=row.seq, kind=one.kind, text=one.body,
                               sender_id=one.actor, sender=row, client_id=one.cid, created_at=now,
                               payload=json.loads(one.payload) if one.payload else None)
        stored[one] = Sent(message, Push(tuple(row.members or ()), MessageSent(room_id, message)))
    return stored


class _Retry(NamedTuple):
    """Not written only because the room's members changed while the write waited: write again."""


RETRIES = 5  # a membership change per retry: more in a row is an attack or a bug, not bad luck


def _unwritten_steps(one: _Send):
    """Why a send was not written: raises the refusal, or returns the _Resend of the stored one,
    or _Retry when nothing stands in its way (the room's members changed meanwhile)."""
    rows = yield _SEND_CHECK, {"actor": one.actor, "room": one.room, "cid": one.cid, "fid": one.file_id}
    row = rows[0] if rows else None
    _explain(row, refused=False)
    if row.existing_id is not None:
        return _Resend(row.existing_id, one.room)
    if not row.file_ok:
        raise NotFound("err.file_gone")
    if row.kind != "private":
        return _Retry()
    _explain(row, refused=True)
    raise NotFound()


def _explain(row, refused: bool) -> None:
    """Raise why a send may not be written (row: _SEND_CHECK's). `refused`: the write was just
    refused, yet the check passes: a block or a leave that came and went in between."""
    if row is None:
        raise NotFound()
    if row.blocked or (refused and row.kind == "private"):
        raise Forbidden("err.blocked")


def _existing(message_id: int, room_id: int) -> Sent:
    """A resend of a stored message: the stored message, nothing new to deliver."""
    with db.session() as s:
        existing = s.get(Message, message_id)
        if existing.room_id != room_id:
            raise Invalid()
        return Sent(views(s, [existing])[0], None)


