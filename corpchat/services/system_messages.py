"""System messages ("Anna removed Boris", later "Missed call"): written inside the transaction of
the action they record, so the record and the change commit together or not at all.

The one writer next to the send statement (services/send.py) and under the same rule: the
room's row lock orders every writer, so `seq` stays gap-free and ordered whoever writes; a
chat hidden by a member comes back, as with any new message; unread counts see the row like
any message from someone else (the actor has read their own). Only the services write `kind='system'` (send._checked
refuses it from a client). What is stored is structured (`action`, `actor`, `target`, `old`,
`new`), never text: each reader's page renders it in their language (corpchat/system_views.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from corpchat.services.errors import Invalid
from corpchat.services.events import MessageSent, Push
from corpchat.services.message_views import message_dict, named, people_of

# What a system message can record; the text for each is "sys.<action>" in corpchat/i18n.
ACTIONS = ("group_created", "group_renamed", "member_added", "member_removed", "member_left",
           "member_promoted", "member_demoted", "owner_changed", "avatar_changed", "avatar_removed",
           "call_ended", "call_missed", "call_declined")
_KEY_MAX = 64

_WRITE = text("""
WITH r AS (
    UPDATE rooms SET last_seq = last_seq + 1, last_message_at = :now
    WHERE id = :room
    RETURNING id, last_seq),
m AS (
    INSERT INTO messages (room_id, seq, sender_id, kind, text, payload, client_id, created_at)
    SELECT r.id, r.last_seq, NULL, 'system', '', CAST(:payload AS jsonb), :key, :now FROM r
    RETURNING id, seq),
p AS (
    UPDATE participants
    SET hidden = false,
        last_read_seq = CASE WHEN user_id = :actor THEN (SELECT seq FROM m) ELSE last_read_seq END
    WHERE room_id = :room AND EXISTS (SELECT 1 FROM m) AND (hidden OR user_id = :actor)
    RETURNING 1)
SELECT m.id, m.seq,
       (SELECT array_agg(user_id ORDER BY user_id) FROM participants WHERE room_id = :room) AS members
FROM m""")

_EXISTING = text("SELECT id FROM messages WHERE room_id = :room AND kind = 'system' AND client_id = :key")

_NAMES = text("""
SELECT id, COALESCE(NULLIF(real_name, ''), login) AS name, gender FROM users WHERE id = ANY(:ids)""")


def write(s, room_id: int, action: str, actor: int | None = None, target: int | None = None,
          old: str | None = None, new: str | None = None, key: str | None = None) -> Push | None:
    """Record `action` in the room, inside the caller's transaction `s`; returns the Push that
    shows it to the room's members once the caller has committed (None: `key` was recorded
    already, a retried action writes nothing twice)."""
    import json

    if action not in ACTIONS or (key is not None and (not isinstance(key, str) or len(key) > _KEY_MAX)):
        raise Invalid()
    if key is not None:
        # Under the room lock (taken first by the caller or by the UPDATE below): no race.
        s.exec(text("SELECT 1 FROM rooms WHERE id = :room FOR UPDATE"), params={"room": room_id})
        if s.exec(_EXISTING, params={"room": room_id, "key": key}).first() is not None:
            return None
    payload = {k: v for k, v in (("action", action), ("actor", actor), ("target", target),
                                 ("old", old), ("new", new)) if v is not None}
    now = datetime.now(UTC)
    row = s.exec(_WRITE, params={"room": room_id, "now": now, "payload": json.dumps(payload),
                                 "key": key, "actor": actor or 0}).one()
    message = message_dict(id=row.id, room_id=room_id, seq=row.seq, kind="system", text="", sender_id=None,
                           sender=None, client_id=key, created_at=now, payload=with_names(s, payload))
    return Push(tuple(row.members or ()), MessageSent(room_id, message))


def with_names(s, payload: dict | None) -> dict:
    """The stored payload plus the people's current names, for rendering (never stored)."""
    ids = people_of(payload)
    rows = s.exec(_NAMES, params={"ids": ids}).all() if ids else []
    return named(payload, {r.id: r for r in rows})
