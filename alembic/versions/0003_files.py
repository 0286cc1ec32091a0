"""files: uploaded file metadata, and an index from message payloads to their file

Revision ID: 0003_files
Revises: 0001
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0003_files"
down_revision: Union[str, None] = "0002_profiles"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("thumb_key", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('image', 'audio', 'video', 'file')", name="ck_files_kind"),
        sa.CheckConstraint("size >= 0", name="ck_files_size"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_files_owner", "files", ["owner_id", "created_at"], unique=False)
    op.create_index(
        "ix_messages_payload_file_id", "messages", [sa.text("(payload ->> 'file_id')")], unique=False,
        postgresql_where=sa.text("payload ? 'file_id'"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_payload_file_id", table_name="messages")
    op.drop_index("ix_files_owner", table_name="files")
    op.drop_table("files")
