"""SQLModel tables. Alembic migrations are the only thing that creates them."""

from corpchat.models.tables import (
    BlockedUser,
    GroupLog,
    Message,
    MessageReaction,
    Participant,
    Room,
    User,
    UserAvatar,
)

__all__ = ["BlockedUser", "GroupLog", "Message", "MessageReaction", "Participant", "Room", "User", "UserAvatar"]
