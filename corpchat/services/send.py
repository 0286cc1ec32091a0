"""Sending a message: ordered (per-room seq), idempotent (per-sender client id), batched.

Production sends go through `send_async` on the event loop's own connection;
`send_sync` runs the same statement through SQLAlchemy for tests and scripts.
Both answer `Sent(message, push)`; a resend of a stored message is told again (see
`_existing`).
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref

import psycopg
from sqlalchemy.exc import IntegrityError

from corpchat import db
from corpchat.config import settings
from corpchat.models import Message
from corpchat.services import rate_limits, validate
from corpchat.services.errors import Conflict, Invalid
from corpchat.services.events import MessageSent, Push
from corpchat.services.message_views import views
from corpchat.services.send_statements import (  # noqa: F401  (Sent is part of this module's API)
    RETRIES,
    Resend,
    Retry,
    SendItem,
    Sent,
    client_id_race,
    drive,
    drive_async,
    unwritten_steps,
    write_steps,
)
from corpchat.services.visibility import room_members

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A message that carries a file (messages.payload = files.FileInfo.payload()); its text is the caption.
FILE_MESSAGE_KINDS = ("file", "voice", "video")


def check_text(value) -> str:
    if not isinstance(value, str):
        raise Invalid()
    if len(value) > settings.max_message_length:
        raise Invalid("err.message_too_long", max=settings.max_message_length)
    value = validate.without_nul(value).replace("\r\n", "\n").strip()
    if not value:
        raise Invalid("err.message_empty")
    return value


def check_caption(value) -> str:
    """A file message's caption: like a text message's body, but it may be empty."""
    if not isinstance(value, str):
        raise Invalid()
    if len(value) > settings.max_message_length:
        raise Invalid("err.message_too_long", max=settings.max_message_length)
    return validate.without_nul(value).replace("\r\n", "\n").strip()


def check_client_id(value) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise Invalid()
    return value




def _checked(actor_id: int, room_id, body, client_id, kind="text", payload=None) -> SendItem:
    room_id, client_id = validate.ident(room_id), check_client_id(client_id)
    if kind == "text" and payload is None:
        return SendItem(actor_id, room_id, check_text(body), client_id)
    # The payload comes from our own code (files.FileInfo.payload()), never from a client; the
    # statement still checks that the sender owns the file it names.
    if kind not in FILE_MESSAGE_KINDS or not isinstance(payload, dict) or not isinstance(payload.get("file_id"), str):
        raise Invalid()
    return SendItem(actor_id, room_id, check_caption(body), client_id, kind, json.dumps(payload), payload["file_id"])


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
                stored = drive(write_steps([one]), lambda sql, params: conn.exec_driver_sql(sql, params).all())
        except IntegrityError as exc:
            if not client_id_race(exc.orig):
                raise
            stored = {}
        if one in stored:
            return stored[one]
        with db.autocommit() as conn:
            why = drive(unwritten_steps(one), lambda sql, params: conn.exec_driver_sql(sql, params).all())
        if isinstance(why, Resend):
            return _existing(*why)
    raise Conflict()


async def send_async(actor_id: int, room_id, body, client_id, kind="text", payload=None) -> Sent:
    """Store a message on the event loop's own connection (see db.run_async): a text, or
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
        self.waiting: list[tuple[SendItem, asyncio.Future]] = []
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


async def _write_batch(batch: list[tuple[SendItem, asyncio.Future]], tries: int = 0) -> None:
    try:
        # A fresh generator per attempt: run_async may run it twice (a dead pooled connection).
        stored = await db.run_async(lambda conn: drive_async(write_steps([one for one, _ in batch]), conn))
    except psycopg.errors.UniqueViolation as exc:
        if not client_id_race(exc):
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


async def _unwritten(one: SendItem, done: asyncio.Future, tries: int = 0) -> None:
    try:
        why = await db.run_async(lambda conn: drive_async(unwritten_steps(one), conn))
        if isinstance(why, Retry):
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


def _existing(message_id: int, room_id: int) -> Sent:
    """A resend of a stored message: the stored message, told to the room once more. Its first
    telling may never have happened (the worker died, or Redis was away, between the commit and
    the push): the sender resends because no reply came. Told twice, it changes nothing: the
    ring upserts by seq and the chat lists count and sort by seq."""
    with db.session() as s:
        existing = s.get(Message, message_id)
        if existing.room_id != room_id:
            raise Invalid()
        message = views(s, [existing])[0]
        if existing.deleted_at is not None or existing.hidden_for:
            return Sent(message, None)  # gone, or gone for someone: a new telling would bring it back
        return Sent(message, Push(room_members(s, room_id), MessageSent(room_id, message)))


