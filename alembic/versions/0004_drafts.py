"""drafts: the composer's unsent text per chat and user

Revision ID: 0004_drafts
Revises: 0003_files
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0004_drafts"
down_revision: Union[str, None] = "0003_files"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # A constant default: no table rewrite on PostgreSQL 11+, however many participants.
    op.add_column("participants", sa.Column("draft", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    op.drop_column("participants", "draft")
