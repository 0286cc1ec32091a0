"""Messages: history, edit, delete, reactions (sending is services/send.py).

Every writer returns what to push (`Push(audience, event)`, services/events.py)
from inside its transaction block, so the caller gets it only after the commit.
"""

from __future__ import annotations

from datetime import UTC, datetime

import emoji as emoji_data
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from corpchat import db
from corpchat.models import Message, MessageReaction
from corpchat.services import files, policy, rate_limits, validate
from corpchat.services.access import access_message, access_room, ensure_may_write
from corpchat.services.errors import Forbidden, Invalid
from corpchat.services.events import MessageDeleted, MessageEdited, MessageHidden, Push, ReactionChanged
from corpchat.services.message_views import views
from corpchat.services.send import (  # noqa: F401
    FILE_MESSAGE_KINDS,
    Sent,
    check_caption,
    check_client_id,
    check_text,
    send_async,
    send_sync,
)
from corpchat.services.visibility import room_members, visible_message_clauses

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
CATCH_UP_LIMIT = 500
MAX_REACTIONS_PER_USER = 20


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
        stmt = select(Message).where(Message.room_id == room.id, *visible_message_clauses(actor_id, part.cleared_seq))
        if before_seq is not None:
            stmt = stmt.where(Message.seq < before_seq)
        rows = list(s.exec(stmt.order_by(Message.seq.desc()).limit(limit + 1)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        return views(s, rows), more


def after(actor_id: int, room_id, after_seq) -> list[dict]:
    """Everything visible after `after_seq`: what a reconnecting tab missed."""
    after_seq = validate.seq(after_seq)
    with db.session() as s:
        room, part = access_room(s, actor_id, room_id)
        rows = list(s.exec(
            select(Message).where(Message.room_id == room.id, Message.seq > after_seq,
                                  *visible_message_clauses(actor_id, part.cleared_seq))
            .order_by(Message.seq).limit(CATCH_UP_LIMIT)
        ).scalars())
        return views(s, rows)


def edit(actor_id: int, message_id, body) -> tuple[dict, Push]:
    """A text message's body, or a file message's caption (which may be emptied)."""
    body = check_caption(body)
    rate_limits.check("edit", actor_id)
    with db.session() as s:
        message, room, _ = access_message(s, actor_id, message_id, lock=True)
        if message.sender_id != actor_id or message.kind not in ("text", *FILE_MESSAGE_KINDS):
            raise Forbidden("err.not_editable")
        if message.kind == "text":
            body = check_text(body)
        ensure_may_write(s, actor_id, room)
        if message.text != body:
            message.text = body
            message.edited_at = datetime.now(UTC)
            s.add(message)
            s.flush()
        view = views(s, [message])[0]
        return view, Push(room_members(s, room.id), MessageEdited(room.id, view))


def delete_for_me(actor_id: int, message_id) -> Push:
    with db.session() as s:
        message, room, _ = access_message(s, actor_id, message_id, lock=True)
        s.exec(update(Message).where(Message.id == message.id)
               .values(hidden_for=func.array_append(Message.hidden_for, actor_id)))
        return Push((actor_id,), MessageHidden(room.id, message.id, message.seq))


def delete_for_everyone(actor_id: int, message_id) -> Push:
    """The sender may; others only where policy allows (group owner and admins). A file the
    message carried is deleted from storage too once no other message refers to it."""
    with db.session() as s:
        message, room, part = access_message(s, actor_id, message_id, lock=True)
        if message.sender_id != actor_id:
            policy.require(part.role, "message.delete_others", room.kind)
        ensure_may_write(s, actor_id, room)
        file_id = (message.payload or {}).get("file_id") if message.kind in FILE_MESSAGE_KINDS else None
        s.exec(update(Message).where(Message.id == message.id)
               .values(deleted_at=datetime.now(UTC), text="", payload=None))
        s.exec(text("DELETE FROM message_reactions WHERE message_id = :m"), params={"m": message.id})
        push = Push(room_members(s, room.id), MessageDeleted(room.id, message.id, message.seq))
    if isinstance(file_id, str):
        files.release(file_id)  # after the commit: its reference check must see the payload gone
    return push


def check_emoji(value) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 16 or not emoji_data.is_emoji(value):
        raise Invalid("err.reaction_invalid")
    return value


def toggle_reaction(actor_id: int, message_id, reaction) -> tuple[dict, Push]:
    """Add the reaction, or remove it if the actor already put it on the message.

    A user may put several different emoji on one message (as in Telegram
    Premium and Slack), up to MAX_REACTIONS_PER_USER.
    """
    reaction = check_emoji(reaction)
    rate_limits.check("react", actor_id)
    with db.session() as s:
        message, room, _ = access_message(s, actor_id, message_id, lock=True)
        ensure_may_write(s, actor_id, room)
        removed = s.exec(text(
            "DELETE FROM message_reactions WHERE message_id = :m AND user_id = :u AND reaction = :r"),
            params={"m": message.id, "u": actor_id, "r": reaction}).rowcount
        if not removed:
            mine = s.exec(select(func.count()).select_from(MessageReaction).where(
                MessageReaction.message_id == message.id, MessageReaction.user_id == actor_id)).scalar_one()
            if mine >= MAX_REACTIONS_PER_USER:
                raise Invalid("err.too_many_reactions", max=MAX_REACTIONS_PER_USER)
            s.exec(insert(MessageReaction).values(message_id=message.id, user_id=actor_id, reaction=reaction)
                   .on_conflict_do_nothing())
        view = views(s, [message])[0]
        return view, Push(room_members(s, room.id), ReactionChanged(room.id, view))
