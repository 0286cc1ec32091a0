"""Uploaded files: metadata only; the bytes are in storage (services/storage.py) under `storage_key`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, String, func
from sqlmodel import Field, SQLModel

from corpchat.models.tables import Message

FILE_KINDS = ("image", "audio", "video", "file")


class UploadedFile(SQLModel, table=True):
    __tablename__ = "files"
    __table_args__ = (
        CheckConstraint("kind IN ('image', 'audio', 'video', 'file')", name="ck_files_kind"),
        CheckConstraint("size >= 0", name="ck_files_size"),
        # Quota sums and "my files" listings go by owner.
        Index("ix_files_owner", "owner_id", "created_at"),
    )

    # Random and unguessable (secrets.token_urlsafe): it appears in URLs and message payloads.
    id: str = Field(sa_column=Column(String(32), primary_key=True))
    owner_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    )
    storage_key: str = Field(sa_column=Column(String(64), nullable=False))
    thumb_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # The sanitised original name: shown and offered on download, never used as a path.
    name: str = Field(sa_column=Column(String(255), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    # Sniffed from the bytes (and refined by probing); the client's claim is ignored.
    mime: str = Field(sa_column=Column(String(100), nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    width: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    height: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    duration_ms: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


_payload = Message.__table__.c.payload
# may_view asks "which live messages reference this file": the file id inside messages.payload.
# Partial, so the text messages (almost all rows) cost nothing.
MESSAGE_FILE_INDEX = Index(
    "ix_messages_payload_file_id", _payload["file_id"].astext, postgresql_where=_payload.has_key("file_id")
)
