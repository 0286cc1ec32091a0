"""The tables of the seed brief and those added since, with PostgreSQL types and constraints
(files live in models/files.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

GENDERS = ("male", "female", "unspecified")
ROOM_KINDS = ("private", "group")
ROLES = ("owner", "admin", "member")
MESSAGE_KINDS = ("text", "file", "voice", "video", "system")
# What the audit log records (details: {"old": ..., "new": ...} where a value changed).
GROUP_ACTIONS = ("create", "rename", "avatar", "add", "remove", "leave", "promote", "demote", "transfer", "delete")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _pk() -> Any:
    return Field(sa_column=Column(BigInteger, Identity(always=False), primary_key=True))


def _ts(nullable: bool = False, default_now: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            DateTime(timezone=True),
            nullable=nullable,
            server_default=func.now() if default_now else None,
        ),
    )


def _fk(target: str, ondelete: str, nullable: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey(target, ondelete=ondelete), nullable=nullable),
    )


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        Index("ux_users_login_lower", text("lower(login)"), unique=True),
        CheckConstraint(_in("gender", GENDERS), name="ck_users_gender"),
        CheckConstraint("birth_day IS NULL OR birth_day BETWEEN 1 AND 31", name="ck_users_birth_day"),
        CheckConstraint("birth_month IS NULL OR birth_month BETWEEN 1 AND 12", name="ck_users_birth_month"),
        CheckConstraint("char_length(login) BETWEEN 3 AND 32", name="ck_users_login_length"),
    )

    id: int | None = _pk()
    login: str = Field(sa_column=Column(String(32), nullable=False))
    password_hash: str = Field(sa_column=Column(String(100), nullable=False))
    real_name: str = Field(default="", sa_column=Column(String(100), nullable=False, server_default=""))
    bio: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    gender: str = Field(
        default="unspecified", sa_column=Column(String(12), nullable=False, server_default="unspecified")
    )
    birth_day: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    birth_month: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    birth_year: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    # The avatar in use, one of this user's user_avatars rows (none: initials).
    avatar_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    locale: str | None = Field(default=None, sa_column=Column(String(5), nullable=True))
    # Bumped at logout and password change: tokens carrying an older value are dead.
    session_version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    created_at: datetime | None = _ts()
    last_seen_at: datetime | None = _ts(nullable=True, default_now=False)


class Room(SQLModel, table=True):
    __tablename__ = "rooms"
    __table_args__ = (
        CheckConstraint(_in("kind", ROOM_KINDS), name="ck_rooms_kind"),
        CheckConstraint(
            "(kind = 'private') = (private_key IS NOT NULL)", name="ck_rooms_private_key"
        ),
        UniqueConstraint("private_key", name="uq_rooms_private_key"),
        # A group's photo -> the group, for the avatar route (services/avatars.py, 0008).
        Index("ix_rooms_avatar_id", "avatar_id", postgresql_where=text("avatar_id IS NOT NULL")),
    )

    id: int | None = _pk()
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    name: str = Field(default="", sa_column=Column(String(100), nullable=False, server_default=""))
    avatar_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # "<smaller user id>:<larger user id>": one private room per pair.
    private_key: str | None = Field(default=None, sa_column=Column(String(41), nullable=True))
    created_by: int | None = _fk("users.id", "SET NULL", nullable=True)
    # Incremented under the room's row lock by every insert: the per-room order.
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # Incremented under the room's row lock by every change of its members: a send compares the
    # value its snapshot saw with the one it locked (services/send.py).
    members_epoch: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    last_message_at: datetime | None = _ts(nullable=True, default_now=False)
    created_at: datetime | None = _ts()


class Participant(SQLModel, table=True):
    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="ck_participants_role"),
        Index("ix_participants_user", "user_id", "room_id"),
        # At most one owner (services/groups.py keeps exactly one; this says it in the database).
        Index("uq_participants_one_owner", "room_id", unique=True, postgresql_where=text("role = 'owner'")),
    )

    room_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    role: str = Field(default="member", sa_column=Column(String(10), nullable=False, server_default="member"))
    last_read_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # "Delete chat for me": messages up to this seq are gone for this user, and
    # the chat is out of the list until a message with a larger seq arrives.
    cleared_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # Out of this user's chat list until the next message arrives.
    hidden: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    # The composer's unsent text in this chat (services/drafts.py); emptied by a send.
    draft: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    joined_at: datetime | None = _ts()


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_in("kind", MESSAGE_KINDS), name="ck_messages_kind"),
        CheckConstraint("(kind = 'system') OR sender_id IS NOT NULL OR deleted_at IS NOT NULL",
                        name="ck_messages_sender"),
        UniqueConstraint("room_id", "seq", name="uq_messages_room_seq"),
        UniqueConstraint("sender_id", "client_id", name="uq_messages_sender_client"),
    )

    id: int | None = _pk()
    room_id: int = Field(sa_column=Column(BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender_id: int | None = _fk("users.id", "SET NULL", nullable=True)
    kind: str = Field(default="text", sa_column=Column(String(10), nullable=False, server_default="text"))
    text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # File metadata (name, size, mime, storage id) or system-event details.
    payload: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    client_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Users who deleted this message "for me".
    hidden_for: list = Field(
        default_factory=list,
        sa_column=Column(ARRAY(BigInteger), nullable=False, server_default="{}"),
    )
    created_at: datetime | None = _ts()
    edited_at: datetime | None = _ts(nullable=True, default_now=False)
    deleted_at: datetime | None = _ts(nullable=True, default_now=False)


class MessageReaction(SQLModel, table=True):
    __tablename__ = "message_reactions"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id", "reaction", name="uq_reactions_message_user_reaction"),
        CheckConstraint("char_length(reaction) BETWEEN 1 AND 32", name="ck_reactions_length"),
    )

    id: int | None = _pk()
    message_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    reaction: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime | None = _ts()


class GroupLog(SQLModel, table=True):
    __tablename__ = "group_logs"
    __table_args__ = (
        CheckConstraint(_in("action", GROUP_ACTIONS), name="ck_group_logs_action"),
        Index("ix_group_logs_room_created", "room_id", "created_at"),
    )

    id: int | None = _pk()
    room_id: int = Field(sa_column=Column(BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False))
    actor_id: int | None = _fk("users.id", "SET NULL", nullable=True)
    target_id: int | None = _fk("users.id", "SET NULL", nullable=True)
    action: str = Field(sa_column=Column(String(12), nullable=False))
    details: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))
    created_at: datetime | None = _ts()


class BlockedUser(SQLModel, table=True):
    __tablename__ = "blocked_users"
    __table_args__ = (
        CheckConstraint("blocker_id <> blocked_id", name="ck_blocked_not_self"),
        Index("ix_blocked_users_blocked", "blocked_id"),
    )

    blocker_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    blocked_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    created_at: datetime | None = _ts()


class UserAvatar(SQLModel, table=True):
    """One uploaded avatar; its images live in services/storage, keyed by the id and the size."""

    __tablename__ = "user_avatars"
    __table_args__ = (Index("ix_user_avatars_user_created", "user_id", "created_at"),)

    # 128 random bits in hex: the id is in the storage key and the URL, so it must not be guessable.
    id: str = Field(sa_column=Column(String(32), primary_key=True))
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    created_at: datetime | None = _ts()


class LoginAddress(SQLModel, table=True):
    """An address a user logged in from: others failing there can never lock this user out."""

    __tablename__ = "login_addresses"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    address: str = Field(sa_column=Column(String(45), primary_key=True))
    last_login_at: datetime | None = _ts()


CALL_KINDS = ("video", "voice")
CALL_STATES = ("ringing", "active", "ended")
CALL_OUTCOMES = ("answered", "missed", "declined", "cancelled")
CALL_MEMBER_STATES = ("ringing", "joined", "left", "declined")


class Call(SQLModel, table=True):
    """One call in a room: rung, maybe answered, ended. Its system message is written at the end."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(_in("kind", CALL_KINDS), name="ck_calls_kind"),
        CheckConstraint(_in("state", CALL_STATES), name="ck_calls_state"),
        CheckConstraint("outcome IS NULL OR " + _in("outcome", CALL_OUTCOMES), name="ck_calls_outcome"),
        Index("ix_calls_room_live", "room_id", postgresql_where=text("state <> 'ended'")),
    )

    id: int | None = _pk()
    room_id: int = Field(sa_column=Column(BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False))
    caller_id: int | None = _fk("users.id", "SET NULL", nullable=True)
    kind: str = Field(default="video", sa_column=Column(String(8), nullable=False, server_default="video"))
    state: str = Field(default="ringing", sa_column=Column(String(8), nullable=False, server_default="ringing"))
    outcome: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    created_at: datetime | None = _ts()
    answered_at: datetime | None = _ts(nullable=True, default_now=False)
    ended_at: datetime | None = _ts(nullable=True, default_now=False)


class CallMember(SQLModel, table=True):
    """Who a call rings or holds. `peer_id` and `peer_token` are issued when the member joins, to the
    one tab that joined: the signalling route accepts a socket only for the user the peer id was
    issued to and with that tab's token, so no one takes another's id."""

    __tablename__ = "call_members"
    __table_args__ = (
        CheckConstraint(_in("state", CALL_MEMBER_STATES), name="ck_call_members_state"),
        # One live call per user, said by the database: a second ring finds the callee busy.
        Index("uq_call_members_one_live", "user_id", unique=True,
              postgresql_where=text("state IN ('ringing', 'joined')")),
        Index("uq_call_members_peer", "peer_id", unique=True),
    )

    call_id: int = Field(sa_column=Column(BigInteger, ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True))
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True))
    state: str = Field(default="ringing", sa_column=Column(String(8), nullable=False, server_default="ringing"))
    peer_id: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    peer_token: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    joined_at: datetime | None = _ts(nullable=True, default_now=False)
    # What the others show for this participant (a member joining later reads it here).
    mic: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true")))
    camera: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true")))
