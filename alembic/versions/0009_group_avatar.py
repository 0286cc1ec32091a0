"""rooms: an index on avatar_id, for the avatar route to find a group's photo and its members

Revision ID: 0009_group_avatar
Revises: 0008_members_epoch
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0009_group_avatar"
down_revision: Union[str, None] = "0008_members_epoch"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_rooms_avatar_id", "rooms", ["avatar_id"], postgresql_where=sa.text("avatar_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_rooms_avatar_id", table_name="rooms")
