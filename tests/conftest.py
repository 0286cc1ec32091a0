"""A fresh PostgreSQL database for the whole run, migrated with Alembic.

Set before any corpchat import, because corpchat.config reads the environment once.
"""

from __future__ import annotations

import os

import pytest

from tests import support

pytest_plugins = ["tests.storage_fixtures"]

support.test_environment()
_DB_URL, _ADMIN_URL = support.create_database()
os.environ["DATABASE_URL"] = _DB_URL

from corpchat.cli import migrate  # noqa: E402

migrate(_DB_URL)

TABLES = "call_members, calls, message_reactions, group_logs, blocked_users, messages, participants, rooms, users"


def pytest_sessionfinish(session, exitstatus):
    from corpchat.db import engine

    engine().dispose()
    support.drop_database(_DB_URL, _ADMIN_URL)


@pytest.fixture
def db_clean():
    """Empty tables (the schema stays) for tests that count rows."""
    from sqlalchemy import text

    from corpchat.db import engine

    with engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield


@pytest.fixture(scope="session")
def app_server():
    """The real app in production mode, on this run's database."""
    # A short voice cap, so that a browser test can see the recorder stop by itself
    # (tests/e2e/test_recorder.py); longer than any other test records.
    app = support.AppProcess(log_name="app", env={"VOICE_MAX_SECONDS": "6"})
    # Starting must leave tracked files alone (tests/security/test_http.py checks).
    app.requirements_before = support.file_state(support.ROOT / "requirements.txt")
    app.start()
    yield app
    app.stop()
