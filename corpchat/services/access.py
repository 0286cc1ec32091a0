"""The one way to get a room or a message on behalf of a user.

Every service function goes through these: they raise NotFound when the user
is not a participant (whether or not the room exists), and can lock the row.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from corpchat.models import BlockedUser, Message, Participant, Room
from corpchat.services import validate
from corpchat.services.errors import NotFound


def access_room(s, actor_id: int, room_id, *, lock: bool = False) -> tuple[Room, Participant]:
    room_id = validate.ident(room_id)
    query = (
        select(Room, Participant)
        .join(Participant, and_(Participant.room_id == Room.id, Participant.user_id == actor_id))
        .where(Room.id == room_id)
    )
    if lock:
        query = query.with_for_update(of=Room)
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
    if message is None or actor_id in (message.hidden_for or []):
        raise NotFound()
    room, participant = access_room(s, actor_id, message.room_id)
    if message.seq <= participant.cleared_seq:
        raise NotFound()
    return message, room, participant


def is_blocked_between(s, a: int, b: int) -> bool:
    """True when either user blocked the other."""
    return s.exec(
        select(BlockedUser.blocker_id).where(
            or_(and_(BlockedUser.blocker_id == a, BlockedUser.blocked_id == b),
                and_(BlockedUser.blocker_id == b, BlockedUser.blocked_id == a))
        ).limit(1)
    ).first() is not None


def member_ids(s, room_id: int) -> list[int]:
    return list(s.exec(select(Participant.user_id).where(Participant.room_id == room_id)).scalars())
