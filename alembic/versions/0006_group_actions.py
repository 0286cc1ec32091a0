"""group_logs.action: the administrative actions the audit log records (details: old and new)

Revision ID: 0006_group_actions
Revises: 0005_login_addresses
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0006_group_actions"
down_revision: Union[str, None] = "0005_login_addresses"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NEW = ("create", "rename", "avatar", "add", "remove", "leave", "promote", "demote", "transfer", "delete")
OLD = ("create", "update", "add", "remove", "promote", "demote", "transfer", "leave")


def _check(actions) -> str:
    return "action IN (" + ", ".join(f"'{a}'" for a in actions) + ")"


def upgrade() -> None:
    op.drop_constraint("ck_group_logs_action", "group_logs", type_="check")
    op.execute("UPDATE group_logs SET action = 'rename' WHERE action = 'update'")
    op.create_check_constraint("ck_group_logs_action", "group_logs", _check(NEW))


def downgrade() -> None:
    op.drop_constraint("ck_group_logs_action", "group_logs", type_="check")
    op.execute("DELETE FROM group_logs WHERE action IN ('avatar', 'delete')")
    op.execute("UPDATE group_logs SET action = 'update' WHERE action = 'rename'")
    op.create_check_constraint("ck_group_logs_action", "group_logs", _check(OLD))
