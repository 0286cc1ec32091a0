"""login_addresses: where each user logged in from, so others failing there cannot lock them out

Revision ID: 0005_login_addresses
Revises: 0004_drafts
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0005_login_addresses"
down_revision: Union[str, None] = "0004_drafts"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "login_addresses",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "address"),
    )


def downgrade() -> None:
    op.drop_table("login_addresses")
