"""Drafts: the composer's unsent text, one per chat and user, kept across reloads and devices.

A send empties the sender's draft inside the send statement itself (services/send.py), so a
stored message and a leftover draft of it never exist together.
"""

from __future__ import annotations

from sqlalchemy import update

from corpchat import db
from corpchat.config import settings
from corpchat.models import Participant
from corpchat.services import rate_limits, validate
from corpchat.services.access import access_room, ensure_may_write


def save_draft(actor_id: int, room_id, text) -> str:
    """Store the actor's draft in a room they are in; returns what was stored."""
    text = validate.text(text, max_len=settings.max_message_length)
    if not text.strip():
        text = ""  # blank is no draft: the chat reopens with an empty box
    rate_limits.check("draft", actor_id)
    with db.session() as s:
        room, part = access_room(s, actor_id, room_id)
        if text:  # clearing a draft stays possible after a block
            ensure_may_write(s, actor_id, room)
        if part.draft != text:
            s.exec(update(Participant)
                   .where(Participant.room_id == room.id, Participant.user_id == actor_id)
                   .values(draft=text))
        return text


def draft_of(actor_id: int, room_id) -> str:
    with db.session() as s:
        _, part = access_room(s, actor_id, room_id)
        return part.draft
