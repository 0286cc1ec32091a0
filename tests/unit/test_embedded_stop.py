"""`make stop` stops the embedded PostgreSQL (`pg_ctl stop` refuses to run as root)."""

from __future__ import annotations

import os

import psycopg

from corpchat.db import start_embedded, stop_embedded


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_stop_embedded_stops_the_server_and_a_second_stop_is_harmless(tmp_path):
    data_dir = tmp_path / "pg"
    url = start_embedded(data_dir, database="stoptest")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    assert _alive(pid)
    assert stop_embedded(data_dir) is True
    assert not _alive(pid)
    assert stop_embedded(data_dir) is False
