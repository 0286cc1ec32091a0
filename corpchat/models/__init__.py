"""SQLModel tables. Alembic migrations are the only thing that creates them."""

from corpchat.models.files import FILE_KINDS, MESSAGE_FILE_INDEX, UploadedFile
from corpchat.models.tables import (
    BlockedUser,
    Call,
    CallMember,
    GroupLog,
    LoginAddress,
    Message,
    MessageReaction,
    Participant,
    Room,
    User,
    UserAvatar,
)

__all__ = [
    "FILE_KINDS", "MESSAGE_FILE_INDEX", "BlockedUser", "Call", "CallMember", "GroupLog", "LoginAddress", "Message",
    "MessageReaction",
    "Participant", "Room", "UploadedFile", "User", "UserAvatar",
]
