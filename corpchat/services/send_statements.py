"""The send statement and its explanation, as generators of (sql, params) steps that either
driver runs (`drive` on SQLAlchemy's connection for `send_sync`, `drive_async` on the event loop's
psycopg connection for `send_async`): one text, one behaviour, two drivers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import NamedTuple

from corpchat.services.errors import Forbidden, NotFound
from corpchat.services.events import MessageSent, Push
from corpchat.services.message_views import message_dict
from corpchat.services.visibility import blocked_either_way_sql


class Sent(NamedTuple):
    message: dict
    push: Push | None  # None: a resend of a message that is gone (deleted), nothing to tell


class SendItem(NamedTuple):
    actor: int
    room: int
    body: str
    cid: str
    kind: str = "text"
    payload: str | None = None  # JSON text: a SendItem is a dict key, so it must stay hashable
    file_id: str | None = None


async def drive_async(steps, conn):
    try:
        sql, params = next(steps)
        while True:
            sql, params = steps.send(await (await conn.execute(sql, params)).fetchall())
    except StopIteration as stop:
        return stop.value


def client_id_race(exc) -> bool:
    """The client id is stored already: a resend (then the check finds it), or the same client
    id raced into another room (the room lock only orders one room): once the winner has
    committed, the check sees it and answers like a sequential resend would."""
    return getattr(getattr(exc, "diag", None), "constraint_name", None) == "uq_messages_sender_client"


def drive(steps, run):
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
# if it differs from the snapshot's, nothing is written and the send is retried (`Retry`).
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


class Resend(NamedTuple):
    message_id: int
    room_id: int


def write_steps(sends: list[SendItem]):
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


class Retry(NamedTuple):
    """Not written only because the room's members changed while the write waited: write again."""


RETRIES = 5  # a membership change per retry: more in a row is an attack or a bug, not bad luck


def unwritten_steps(one: SendItem):
    """Why a send was not written: raises the refusal, or returns the Resend of the stored one,
    or Retry when nothing stands in its way (the room's members changed meanwhile)."""
    rows = yield _SEND_CHECK, {"actor": one.actor, "room": one.room, "cid": one.cid, "fid": one.file_id}
    row = rows[0] if rows else None
    _explain(row, refused=False)
    if row.existing_id is not None:
        return Resend(row.existing_id, one.room)
    if not row.file_ok:
        raise NotFound("err.file_gone")
    if row.kind != "private":
        return Retry()
    _explain(row, refused=True)
    raise NotFound()


def _explain(row, refused: bool) -> None:
    """Raise why a send may not be written (row: _SEND_CHECK's). `refused`: the write was just
    refused, yet the check passes: a block or a leave that came and went in between."""
    if row is None:
        raise NotFound()
    if row.blocked or (refused and row.kind == "private"):
        raise Forbidden("err.blocked")
