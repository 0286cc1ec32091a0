"""The one way to get a room or a message on behalf of a user.

Every service function goes through these: they raise NotFound when the user
is not a participant (whether or not the room exists), and can lock the row.
`ensure_may_write` is the one rule for every path that writes into a chat (send, send files,
edit, react, delete for everyone, drafts); the batched send statement (services/send.py)
evaluates the same rule in SQL through `blocked_either_way_sql`.
"""

from __future__ import annotations

from sqlalchemy import and_, select

from corpchat.models import Message, Participant, Room
from corpchat.services import validate
from corpchat.services.errors import Forbidden, NotFound
from corpchat.services.visibility import blocked_either_way, message_visible


def access_room(s, actor_id: int, room_id, *, lock: bool = False) -> tuple[Room, Participant]:
    room_id = validate.ident(room_id)
    if lock:
        # The room's row lock first, the membership read after it, in its own statement: read in
        # one statement with the lock, the participant row would be the one from before the
        # wait (PostgreSQL re-checks only the locked row), and a member who had just been made
        # the owner would still look like a member (found by the 1,000 concurrent role changes).
        s.exec(select(Room.id).where(Room.id == room_id).with_for_update())
    query = (
        select(Room, Participant)
        .join(Participant, and_(Participant.room_id == Room.id, Participant.user_id == actor_id))
        .where(Room.id == room_id)
    )
    row = s.exec(query).first()
    if row is None:
        raise NotFound()
    return row[0], row[1]


def access_message(s, actor_id: int, message_id, *, lock: bool = False) -> tuple[Message, Room, Participant]:
    """A message the actor can see: in their room, not deleted, not hidden for them."""
    message_id = validate.ident(message_id)
    query = select(Message).where(Message.id == message_id, Message.deleted_at.is_(None))
    if lock:
        query = query.with_for_update()
    message = s.exec(query).scalars().first()
    if message is None:
        raise NotFound()
    room, participant = access_room(s, actor_id, message.room_id)
    if not message_visible(message, actor_id, participant.cleared_seq):
        raise NotFound()
    return message, room, participant


def ensure_may_write(s, actor_id: int, room) -> None:
    """In a private chat, a block in either direction stops every write, both ways (room: a Room
    or a row with `kind` and `private_key`)."""
    if room.kind == "private":
        other = [int(x) for x in room.private_key.split(":") if int(x) != actor_id]
        if other and blocked_either_way(s, actor_id, other[0]):
            raise Forbidden("err.blocked")
