"""rooms.members_epoch: a send written after a membership change it did not see is retried

Revision ID: 0008_members_epoch
Revises: 0007_one_owner
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0008_members_epoch"
down_revision: Union[str, None] = "0007_one_owner"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("rooms", sa.Column("members_epoch", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("rooms", "members_epoch")
