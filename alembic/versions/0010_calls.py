"""calls and call_members: who a call rings, who joined, the peer ids issued to them

Revision ID: 0010_calls
Revises: 0009_group_avatar
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0010_calls"
down_revision: Union[str, None] = "0009_group_avatar"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("room_id", sa.BigInteger(), sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("caller_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False, server_default="video"),
        sa.Column("state", sa.String(8), nullable=False, server_default="ringing"),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('video', 'voice')", name="ck_calls_kind"),
        sa.CheckConstraint("state IN ('ringing', 'active', 'ended')", name="ck_calls_state"),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('answered', 'missed', 'declined', 'cancelled')",
                           name="ck_calls_outcome"),
    )
    op.create_index("ix_calls_room_live", "calls", ["room_id"], postgresql_where=sa.text("state <> 'ended'"))
    op.create_table(
        "call_members",
        sa.Column("call_id", sa.BigInteger(), sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("state", sa.String(8), nullable=False, server_default="ringing"),
        sa.Column("peer_id", sa.String(40), nullable=True),
        sa.Column("peer_token", sa.String(64), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('ringing', 'joined', 'left', 'declined')", name="ck_call_members_state"),
    )
    op.create_index("uq_call_members_one_live", "call_members", ["user_id"], unique=True,
                    postgresql_where=sa.text("state IN ('ringing', 'joined')"))
    op.create_index("uq_call_members_peer", "call_members", ["peer_id"], unique=True)


def downgrade() -> None:
    op.drop_table("call_members")
    op.drop_table("calls")
