"""db.run_async retries once when the connection, not the work, was at fault (issue 24)."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from sqlalchemy import text

from corpchat import db


def _select_all(conn):
    return db.fetchone_async(conn, "SELECT * FROM stale_plan_probe WHERE id = %(id)s", {"id": 1})


def test_a_prepared_statement_whose_columns_a_migration_changed_is_run_again():
    with db.engine().begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS stale_plan_probe; CREATE TABLE stale_plan_probe (id int, a text);"
                          "INSERT INTO stale_plan_probe VALUES (1, 'x')"))

    async def go():
        try:
            for _ in range(8):  # past psycopg's prepare_threshold: a server-side prepared statement
                assert tuple(await db.run_async(_select_all)) == (1, "x")
            with db.engine().begin() as conn:
                conn.execute(text("ALTER TABLE stale_plan_probe ADD COLUMN b text DEFAULT 'y'"))
            return tuple(await db.run_async(_select_all))
        finally:
            await db.close_async_pool()

    try:
        assert asyncio.run(go()) == (1, "x", "y")
    finally:
        with db.engine().begin() as conn:
            conn.execute(text("DROP TABLE stale_plan_probe"))


def test_a_dropped_connection_is_replaced_and_the_work_runs_once_more():
    calls = []

    async def work(conn):
        calls.append(conn)
        return await db.fetchone_async(conn, "SELECT pg_backend_pid() AS pid", {})

    async def go():
        try:
            first = (await db.run_async(work)).pid
            # what a database restart does to every idle one (autocommit: pg_stat_activity is a
            # snapshot for the length of a transaction)
            with db.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                gone = conn.execute(text("SELECT array_agg(pid) FROM pg_stat_activity "
                                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
                conn.execute(text("SELECT pg_terminate_backend(p) FROM unnest(CAST(:p AS int[])) p"), {"p": gone})
                # gone for good, as after a restart (a backend sends its goodbye as it exits)
                while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)"),
                                   {"p": gone}).scalar():
                    time.sleep(0.02)
            with db.engine().connect() as conn:  # the sync pool tells its dead ones apart at checkout
                assert conn.execute(text("SELECT 1")).scalar() == 1
            return first, (await db.run_async(work)).pid
        finally:
            await db.close_async_pool()

    first, second = asyncio.run(go())
    assert first != second and len(calls) == 3  # a dead one, then a fresh one


def test_an_error_of_the_work_itself_is_not_retried():
    calls = []

    async def work(conn):
        calls.append(1)
        await conn.execute("SELECT * FROM no_such_table_here")

    async def go():
        try:
            await db.run_async(work)
        finally:
            await db.close_async_pool()

    with pytest.raises(psycopg.errors.UndefinedTable):
        asyncio.run(go())
    assert calls == [1]
