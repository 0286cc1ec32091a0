"""The schema exists only through Alembic, and the models agree with it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import corpchat.models  # noqa: F401
from corpchat.cli import migrate
from tests import support


def test_upgrade_from_empty_and_models_match():
    url, admin = support.create_database("corpchat_migr")
    try:
        migrate(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"users", "rooms", "participants", "messages", "message_reactions", "group_logs",
                    "blocked_users", "alembic_version"} <= tables
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            diff = compare_metadata(ctx, SQLModel.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            migrate(url)  # a second upgrade is a no-op
        engine.dispose()
    finally:
        support.drop_database(url, admin)
