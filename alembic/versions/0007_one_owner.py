"""participants: at most one owner per room, said by the database too

Revision ID: 0007_one_owner
Revises: 0006_group_actions
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0007_one_owner"
down_revision: Union[str, None] = "0006_group_actions"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("uq_participants_one_owner", "participants", ["room_id"], unique=True,
                    postgresql_where=sa.text("role = 'owner'"))


def downgrade() -> None:
    op.drop_index("uq_participants_one_owner", table_name="participants")
