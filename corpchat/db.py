"""The database engine and sessions.

Without DATABASE_URL an embedded PostgreSQL (pgserver) is started with its
data under `.data/pg`; it outlives this process, so a restart reuses it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from corpchat.config import PROJECT_ROOT

EMBEDDED_DATA_DIR = PROJECT_ROOT / ".data" / "pg"


def to_sqlalchemy_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def start_embedded(data_dir=EMBEDDED_DATA_DIR, database: str = "corpchat") -> str:
    """Start (or reuse) the embedded server and return a URL for `database`."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        url = start_embedded()
        os.environ["DATABASE_URL"] = url
    return to_sqlalchemy_url(url)


def max_connections() -> int:
    """How many connections one worker may open (DB_POOL_SIZE + DB_MAX_OVERFLOW)."""
    return int(os.environ.get("DB_POOL_SIZE", "10")) + int(os.environ.get("DB_MAX_OVERFLOW", "10"))


@lru_cache(maxsize=1)
def engine() -> Engine:
    return create_engine(
        database_url(),
        pool_size=int(os.environ.get("DB_POOL_SIZE", "10")),
        max_overflow=int(os.environ.get("DB_MAX_OVERFLOW", "10")),
        # No pre-ping (a round trip per checkout, 13 % of the send path's thread time): after a
        # database restart the first statement on a dead connection fails once and SQLAlchemy
        # then discards every older pooled connection.
    )


@contextmanager
def autocommit() -> Iterator[Connection]:
    """A connection where every statement commits on its own (no BEGIN/COMMIT round trips).

    For hot paths written as single statements that must not hold row locks
    across round trips (see services.messages._SEND_WRITE).
    """
    with engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


@contextmanager
def session() -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error."""
    with Session(engine(), expire_on_commit=False) as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
