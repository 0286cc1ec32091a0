"""A send after a schema change or a lost database connection is stored on the first try
(issue 24, a finding): the app's pooled connections must not make the next send fail once."""

from __future__ import annotations

import secrets
import time

import pytest
from sqlalchemy import text

from corpchat import db
from corpchat.services import rooms
from corpchat.state.chat import ChatState
from tests import wsclient as w

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "correct horse 12"
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731


async def _pair(url: str):
    suffix = secrets.token_hex(3)
    anna = await w.register(url, f"stale_a{suffix}", PASSWORD)
    boris = await w.register(url, f"stale_b{suffix}", PASSWORD)
    room = rooms.open_private(anna.user_id, boris.user_id)
    tab = await w.ReflexClient(url, anna).connect("/")
    await tab.call(H("open_room"), room_id=room)
    return tab


async def _send(tab, body: str) -> tuple[int, list]:
    """Send over the real protocol; how many rows hold it once the handler is done."""
    await tab.call(H("send_message"), form_data={"text": body, "client_id": secrets.token_hex(8)})
    with db.engine().connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM messages WHERE text = :t"), {"t": body}).scalar()
    return stored, [p for p in tab.get(ChatState, "pending", []) if p.get("text") == body]


def _drop_every_connection() -> None:
    """Terminate every backend of this database but ours, and wait until they are gone (as
    after a restart: the server has closed them before it takes new connections)."""
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with db.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Those terminated, not whoever connects meanwhile (the app's pools open new ones at once).
        gone = conn.execute(text(f"SELECT array_agg(pid) {others} AND backend_type = 'client backend'")).scalar()
        assert gone
        conn.execute(text("SELECT pg_terminate_backend(p) FROM unnest(CAST(:p AS int[])) p"), {"p": gone})
        deadline = time.monotonic() + 10
        while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)"), {"p": gone}).scalar():
            assert time.monotonic() < deadline, "the terminated backends did not go"
            time.sleep(0.05)


async def _warm(tab, n: int = 12) -> None:
    # More sends than psycopg's prepare_threshold (5): the send statement is a server-side
    # prepared statement on every pooled connection that ran it.
    for i in range(n):
        assert (await _send(tab, f"warm {i} {secrets.token_hex(4)}"))[0] == 1


async def test_first_send_after_a_table_rename_and_back_is_stored(app_server):
    tab = await _pair(app_server.url)
    try:
        await _warm(tab)
        with db.engine().begin() as conn:
            conn.execute(text("ALTER TABLE messages RENAME TO messages_away"))
        try:
            during = f"during {secrets.token_hex(4)}"
            await tab.call(H("send_message"), form_data={"text": during, "client_id": secrets.token_hex(8)})
        finally:
            with db.engine().begin() as conn:
                conn.execute(text("ALTER TABLE messages_away RENAME TO messages"))
        for i in range(3):
            body = f"after rename {i} {secrets.token_hex(4)}"
            assert await _send(tab, body) == (1, []), body
    finally:
        await tab.close()



async def test_first_send_after_the_database_drops_every_connection_is_stored(app_server):
    """What a PostgreSQL restart does to the app's idle pooled connections, without stopping the
    server the other tests share: every backend of this database but ours is terminated."""
    tab = await _pair(app_server.url)
    try:
        await _warm(tab)
        _drop_every_connection()
        # This process's pool tells its dead connections apart at checkout, as the app's does.
        for i in range(3):
            body = f"after restart {i} {secrets.token_hex(4)}"
            assert await _send(tab, body) == (1, []), body
    finally:
        await tab.close()


async def test_a_registration_after_the_database_drops_every_connection_succeeds(app_server):
    """The sync engine's pool (registration, chat lists...) as well as the send path's."""
    tab = await _pair(app_server.url)
    try:
        await _warm(tab, n=2)
        _drop_every_connection()
        for _ in range(3):  # through the app's whole pool of idle connections, not just one
            session = await w.register(app_server.url, f"stale_r{secrets.token_hex(3)}", PASSWORD)
            assert session.user_id
    finally:
        await tab.close()
