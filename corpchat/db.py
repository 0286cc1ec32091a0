"""The database engine and sessions.

Without DATABASE_URL an embedded PostgreSQL (pgserver) is started with its
data under `.data/pg`; it outlives this process, so a restart reuses it.
"""

from __future__ import annotations

import asyncio
import select
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import TypeVar

import psycopg
import sqlalchemy.exc
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session

from corpchat import config
from corpchat.config import PROJECT_ROOT, settings

EMBEDDED_DATA_DIR = PROJECT_ROOT / ".data" / "pg"
T = TypeVar("T")


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


def stop_embedded(data_dir=EMBEDDED_DATA_DIR, timeout: float = 30.0) -> bool:
    """Stop the embedded server with PostgreSQL's fast shutdown (SIGINT to the postmaster).
    `pg_ctl stop` refuses to run as root, and pgserver runs the server as its own OS user, so
    the postmaster is signalled directly. Returns whether a running server was stopped."""
    import os
    import signal
    import time

    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.2)
    raise RuntimeError(f"the embedded PostgreSQL (pid {pid}) did not stop within {timeout:.0f} s")


def database_url() -> str:
    url = config.env_database_url()
    if not url:
        url = start_embedded()
        config.set_env_database_url(url)
    return to_sqlalchemy_url(url)


def conninfo() -> str:
    """The database URL as psycopg itself takes it (no SQLAlchemy driver prefix)."""
    url = database_url()
    return "postgresql://" + url.split("://", 1)[1] if url.startswith("postgresql+") else url


def max_connections() -> int:
    """How many connections one worker may open (DB_POOL_SIZE + DB_MAX_OVERFLOW)."""
    return settings.db_pool_size + settings.db_max_overflow


# No JIT: once the messages table is large, the planner's cost estimate of the chat-list query
# crosses jit_above_cost and PostgreSQL compiled it on every run, ~35 ms for a 10 ms query
# (the 500-chat page load went from 25 to 50-80 ms after the 1M-row history benchmark).
SESSION_OPTIONS = "-c jit=off"


@lru_cache(maxsize=1)
def engine() -> Engine:
    created = create_engine(
        database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_args={"options": SESSION_OPTIONS},
        # No pre-ping (a round trip per checkout, 13 % of the send path's thread time): a dead
        # connection is told apart locally at checkout instead (_closed_by_server).
    )
    event.listen(created, "checkout", _refuse_closed)
    return created


def _closed_by_server(dbapi_conn) -> bool:
    """Whether the server closed this idle connection (a restart, a failover, an admin's
    pg_terminate_backend), without a round trip: the server's goodbye is waiting in the socket.
    An idle healthy connection has nothing to read (or a notice, which keeps it OK)."""
    pgconn = dbapi_conn.pgconn
    try:
        # poll, not select: a worker with a thousand tabs has socket numbers past select's 1024,
        # where select raises and every checkout looked closed (the 1,000-member bench failed).
        readable = select.poll()
        readable.register(pgconn.socket, select.POLLIN)
        # Its goodbye (an ErrorResponse) is read first, the end of the stream on the next read.
        for _ in range(4):
            if not readable.poll(0):
                break
            pgconn.consume_input()
    except (psycopg.OperationalError, OSError, ValueError):
        return True
    return pgconn.status != psycopg.pq.ConnStatus.OK


def _refuse_closed(dbapi_conn, record, proxy) -> None:
    # DisconnectionError at checkout: the pool drops this connection and hands out another
    # (SQLAlchemy's documented pessimistic handling). Before, the first statement after a
    # database restart failed once on every pooled connection (a registration, a chat list...).
    if _closed_by_server(dbapi_conn):
        raise DisconnectionError("closed by the server")


@contextmanager
def autocommit() -> Iterator[Connection]:
    """A connection where every statement commits on its own (no BEGIN/COMMIT round trips).

    For hot paths written as single statements that must not hold row locks
    across round trips (see services/send.py).
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


_async_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def _async_pool():
    """This event loop's pool of autocommit connections (a pool's tasks belong to one loop)."""
    from psycopg.rows import namedtuple_row
    from psycopg_pool import AsyncConnectionPool

    async def open_pool():
        pool = AsyncConnectionPool(conninfo(), min_size=1,
                                   max_size=settings.db_async_pool_size, open=False,
                                   kwargs={"autocommit": True, "row_factory": namedtuple_row,
                                           "options": SESSION_OPTIONS},
                                   timeout=5.0)  # with the database down a send fails (Retry) soon
        await pool.open(wait=False)  # connects in the background; a down database is retried
        return pool

    loop = asyncio.get_running_loop()
    opening = _async_pools.get(loop)
    if opening is None:  # one pool even when the first callers come together
        opening = _async_pools[loop] = loop.create_task(open_pool())
    return await opening


# Run before a loop's pool closes (services/send.py registers its writers' drain): the database
# layer does not reach up into the services that use it.
_before_close: list = []


def before_pool_close(hook) -> None:
    """`await hook()` runs first in close_async_pool (work still queued for this loop's pool)."""
    _before_close.append(hook)


async def close_async_pool(timeout: float = 5.0) -> None:
    """Close this event loop's pool and its background tasks. Call before the loop ends (the
    app's lifespan, a script's asyncio.run): left to asyncio.run's own task cancellation, a pool
    still connecting in the background once kept the shutdown waiting forever."""
    for hook in _before_close:
        await hook()
    opening = _async_pools.pop(asyncio.get_running_loop(), None)
    if opening is None:
        return
    pool = await opening
    await pool.close(timeout=timeout)


@asynccontextmanager
async def lifespan(app=None):
    """Per worker: the loop's async pool is closed, after its queued sends, when the worker stops."""
    try:
        yield
    finally:
        await close_async_pool()


def _plan_went_stale(exc: Exception) -> bool:
    """PostgreSQL re-plans a prepared statement after DDL from another session (a migration) by
    itself, except when its result columns changed: then it refuses the old statement."""
    return isinstance(exc, psycopg.errors.FeatureNotSupported) and "cached plan must not change" in str(exc)


async def run_async(work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
    """`await work(conn)` on an autocommit psycopg connection of the event loop's own pool: no
    thread hand-off. For the hottest paths (services/send.py, the session check): 20 concurrent
    senders each handing a statement to a thread kept every thread waiting for the GIL (the event
    loop holds it) - the echo took 80 ms for ~14 ms of work.

    Retried once when the connection, not the work, was at fault, so `work` must be safe to run
    twice (a send is: its client id stores it at most once):
    - the connection was dead (a database restart or failover, an idle connection cut): every
      idle one in the pool died with it, so the pool checks them all (a round trip each, only
      after a failure) before the retry. Not a ping per checkout: that is a round trip on every
      send (the sync engine measured 13 % of the send path's thread time for it);
    - a server-side prepared statement (psycopg prepares a statement run 5 times) whose result
      columns a migration changed: DEALLOCATE ALL, which psycopg also takes as "forget yours".
    A database still down fails the retry too: the caller shows the send as failed (Retry).
    """
    pool = await _async_pool()
    for attempt in (1, 2):
        async with pool.connection() as conn:
            try:
                return await work(conn)
            except psycopg.OperationalError:
                if attempt == 2 or not conn.broken:
                    raise
            except psycopg.Error as exc:
                if attempt == 2 or not _plan_went_stale(exc):
                    raise
                await conn.execute("DEALLOCATE ALL")
                continue
        await pool.check()  # the broken one is discarded on its return; now the idle ones
    raise AssertionError("unreachable")


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached (down, restarting, the pool timed
    out waiting for a connection), not that the work was wrong: the caller may try again later."""
    if isinstance(exc, psycopg.OperationalError):  # PoolTimeout included
        return True
    if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.DisconnectionError,
                        sqlalchemy.exc.TimeoutError)):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated


async def fetchone_async(conn, sql: str, params: dict):
    """One row of one statement, for `run_async(lambda conn: fetchone_async(conn, ...))`."""
    return await (await conn.execute(sql, params)).fetchone()
