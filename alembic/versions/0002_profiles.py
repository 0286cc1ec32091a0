"""profiles: avatar gallery rows (files on disk), users.avatars dropped

Revision ID: 0002_profiles
Revises: 0001
Create Date: 2026-12-01 21:50:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '0002_profiles'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('user_avatars',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_user_avatars_user_created', 'user_avatars', ['user_id', 'created_at'], unique=False)
    # The JSONB gallery was never written: the gallery is the user_avatars rows now.
    op.drop_column('users', 'avatars')


def downgrade() -> None:
    op.add_column('users', sa.Column('avatars', postgresql.JSONB(astext_type=sa.Text()),
                                     server_default='[]', nullable=False))
    op.drop_index('ix_user_avatars_user_created', table_name='user_avatars')
    op.drop_table('user_avatars')
