"""call_members: each participant's microphone and camera, so a member joining a group call later
sees who is muted or has the camera off (a live event alone reaches only those already in)

Revision ID: 0011_call_media
Revises: 0010_calls
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0011_call_media"
down_revision: Union[str, None] = "0010_calls"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("call_members", sa.Column("mic", sa.Boolean(), nullable=False, server_default=sa.text("true")))
    op.add_column("call_members", sa.Column("camera", sa.Boolean(), nullable=False, server_default=sa.text("true")))


def downgrade() -> None:
    op.drop_column("call_members", "camera")
    op.drop_column("call_members", "mic")
