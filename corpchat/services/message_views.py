"""Messages as the plain dicts every layer above shares: the one message-dict builder."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from corpchat.models import Message, MessageReaction, User


def message_dict(*, id: int, room_id: int, seq: int, kind: str, text: str, sender_id: int | None,
                 sender, client_id: str | None, created_at, edited_at=None, payload: dict | None = None,
                 reactions: list | None = None) -> dict:
    """A stored message as a dict (sender: a row with login, real_name, avatar_id, or None).

    The same shape leaves the send statement and every read, so a bubble never depends on
    the road its message took."""
    return {
        "id": id, "room_id": room_id, "seq": seq, "kind": kind, "text": text,
        "sender_id": sender_id or 0, "sender_name": display_name(sender),
        "sender_avatar": sender.avatar_id if sender else None,
        "client_id": client_id or "", "payload": payload,
        "created_at": created_at, "edited_at": edited_at, "reactions": reactions or [],
    }


def display_name(u) -> str:
    return (u.real_name or u.login) if u else ""


def views(s, messages: list[Message]) -> list[dict]:
    """Messages as plain dicts, with sender names and reaction summaries (2 queries)."""
    if not messages:
        return []
    user_ids = {m.sender_id for m in messages if m.sender_id}
    for m in messages:
        if m.kind == "system":
            user_ids.update(people_of(m.payload))
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
            select(User.id, User.login, User.real_name, User.avatar_id, User.gender).where(User.id.in_(user_ids))
        ).all()
    } if user_ids else {}
    return [_view(m, users, reactions.get(m.id, [])) for m in messages]


def _view(m: Message, users: dict, reactions: list[tuple[str, int]]) -> dict:
    grouped: dict[str, list[int]] = {}
    for emoji, uid in reactions:
        grouped.setdefault(emoji, []).append(uid)
    return message_dict(
        id=m.id, room_id=m.room_id, seq=m.seq, kind=m.kind, text=m.text, sender_id=m.sender_id,
        sender=users.get(m.sender_id), client_id=m.client_id, created_at=m.created_at,
        edited_at=m.edited_at, payload=named(m.payload, users) if m.kind == "system" else m.payload,
        reactions=[{"emoji": e, "user_ids": uids, "names": [display_name(users.get(u)) for u in uids]}
                   for e, uids in grouped.items()])


# A system line names people by id (services/system_messages.py stores no text).
def people_of(payload: dict | None) -> list[int]:
    return [v for k in ("actor", "target") if isinstance(v := (payload or {}).get(k), int)]


def named(payload: dict | None, users: dict) -> dict:
    """`payload` with `names` (id -> display name) and the actor's `gender` (the verb's form in
    uk/ru) from `users` (id -> a row with name or real_name/login, and gender)."""
    payload = dict(payload or {})
    names = {}
    for uid in people_of(payload):
        u = users.get(uid)
        if u is not None:
            names[str(uid)] = getattr(u, "name", None) or u.real_name or u.login
    payload["names"] = names
    actor = users.get(payload.get("actor"))
    payload["gender"] = getattr(actor, "gender", None) or "unspecified"
    return payload
