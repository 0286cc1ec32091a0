"""`make faults`: the crash and outage suite (issue 24). 50 clients send through the real
protocol while the app is killed with SIGKILL and restarted, PostgreSQL is stopped in immediate
mode and started, or sockets are cut; then the database is compared with what the clients were
told: acknowledged-but-missing, duplicates and order violations must all be 0.

    python -m tests.faults.run                 # every scenario
    python -m tests.faults.run --only drops    # kill, postgres, redis, drops, disk, floods
    python -m tests.faults.run --quick         # fewer faults (a smoke run)

Each scenario has its own database (and for `postgres` its own PostgreSQL cluster, so stopping
it touches nothing else) and its own app on a free loopback port. Prints a table; the details
go to test-artifacts/faults.json. Exit status 1 if any invariant is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time

import bcrypt
import psycopg

from tests import support
from tests.bench import common
from tests.bench.client import login, new_http
from tests.faults import fleet, floods
from tests.faults.disk import disk  # noqa: F401 (a scenario, run by name)
from tests.faults.services import Postgres, Redis

CLIENTS = 50
SCENARIOS = ["kill", "postgres", "redis", "drops", "disk", "floods"]


def seed(url: str, clients: int) -> tuple[list[str], int]:
    """`clients` users in one group; returns their logins and the group's id."""
    pw = bcrypt.hashpw(common.PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    tag = os.urandom(3).hex()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        ids = [r[0] for r in conn.execute(
            "INSERT INTO users (login, password_hash, real_name, locale) SELECT %s || g, %s, 'Fault ' || g, 'en' "
            "FROM generate_series(1, %s) g RETURNING id", (f"f{tag}", pw, clients)).fetchall()]
        room = conn.execute("INSERT INTO rooms (kind, name, created_by) VALUES ('group', 'faults', %s) RETURNING id",
                            (ids[0],)).fetchone()[0]
        conn.execute("INSERT INTO participants (room_id, user_id, role) SELECT %s, u, CASE WHEN u = %s THEN 'owner' "
                     "ELSE 'member' END FROM unnest(%s::bigint[]) u", (room, ids[0], ids))
    return [f"f{tag}{i}" for i in range(1, clients + 1)], room


def stored(url: str, room: int) -> list[tuple[str, int]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        return conn.execute("SELECT text, seq FROM messages WHERE room_id = %s AND kind = 'text' ORDER BY seq",
                            (room,)).fetchall()


class Run:
    """One scenario's database, app and clients."""

    def __init__(self, server_url: str, name: str, **app_env):
        shared, os.environ["TEST_DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL"), server_url
        try:
            self.db_url, self.admin_url = support.create_database(f"corpchat_faults_{name}")
        finally:
            os.environ["TEST_DATABASE_URL"] = shared or ""
        from corpchat.cli import migrate

        migrate(self.db_url)
        env = {"DATABASE_URL": self.db_url, "REFLEX_WEB_WORKDIR": str(support.ROOT / ".web-faults"),
               "REFLEX_STATES_WORKDIR": str(support.ROOT / ".web-faults" / ".states"), "GRANIAN_WORKERS": "1",
               **app_env}
        self.app = support.AppProcess(env=env, log_name=f"faults-{name}", backend_only=True)
        self.clients: list[fleet.Client] = []
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    async def begin(self, http, clients: int) -> None:
        await asyncio.to_thread(self.app.start)
        logins, room = seed(self.db_url, clients)
        cookies = [await login(http, self.app.url, name, common.PASSWORD) for name in logins]
        self.clients = [fleet.Client(i, c, room) for i, c in enumerate(cookies)]
        self.room = room
        self.tasks = [asyncio.create_task(c.run(http, self.app.url, self.stop)) for c in self.clients]

    async def end(self, settle: float = 5.0) -> dict:
        await asyncio.sleep(settle)  # every client has had time to resend and be acknowledged
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), fleet.ACK_TIMEOUT + 30)
        result = fleet.verify(stored(self.db_url, self.room), self.clients)
        self.app.stop()
        support.drop_database(self.db_url, self.admin_url)
        return result

    def kill_app(self) -> None:
        os.killpg(os.getpgid(self.app.proc.pid), signal.SIGKILL)
        self.app.proc.wait(10)


_SHARED: list[str] = []


def _shared_server() -> str:
    """The machine's PostgreSQL (TEST_DATABASE_URL, or the embedded one), for the scenarios
    that do not stop it."""
    if not _SHARED:
        _SHARED.append(os.environ.get("TEST_DATABASE_URL") or support.base_server_url())
    return _SHARED[0]


async def kill(quick: bool) -> dict:
    """SIGKILL the app at random moments and start it again."""
    faults, recoveries = (4 if quick else 20), []
    run = Run(_shared_server(), "kill")
    async with new_http() as http:
        await run.begin(http, CLIENTS)
        for _ in range(faults):
            await asyncio.sleep(random.uniform(1.0, 5.0))
            at = time.monotonic()
            run.kill_app()
            await asyncio.to_thread(run.app.start)
            await asyncio.sleep(fleet.ACK_TIMEOUT)
            recoveries += fleet.recovery(run.clients, at)
        result = await run.end()
    return {**result, "faults": faults, "recovery": common.summary_ms(recoveries)}


async def _outages(run: Run, cycles: int, down: float, stop, start) -> dict:
    """`cycles` times: run a while, stop the service, keep it down, start it; how the clients
    fared: recovery times, sends refused visibly while down, clients never acknowledged again."""
    recoveries, refused, at = [], 0, time.monotonic()
    async with new_http() as http:
        await run.begin(http, CLIENTS)
        for _ in range(cycles):
            await asyncio.sleep(random.uniform(2.0, 5.0))
            before = sum(len(c.tab.errors) for c in run.clients if c.tab)
            await asyncio.to_thread(stop)
            await asyncio.sleep(down)
            refused += sum(len(c.tab.errors) for c in run.clients if c.tab) - before
            at = time.monotonic()
            await asyncio.to_thread(start)
            await asyncio.sleep(fleet.ACK_TIMEOUT * 2)
            recoveries += fleet.recovery(run.clients, at)
        result = await run.end()
    silent = [c.index for c in run.clients if not any(t > at for t in c.acked.values())]
    return {**result, "faults": cycles, "recovery": common.summary_ms(recoveries),
            "sends_refused_visibly_while_down": refused, "clients_not_recovered": len(silent)}


async def postgres(quick: bool) -> dict:
    """Stop PostgreSQL (immediate: no checkpoint, connections cut), keep it down, start it."""
    pg = Postgres()
    pg.start()
    try:
        return await _outages(Run(pg.url, "postgres"), 2 if quick else 5, 5.0, lambda: pg.stop("immediate"),
                              pg.start)
    finally:
        pg.destroy()


async def redis(quick: bool) -> dict:
    """Two workers reaching each other's tabs through Redis; Redis is killed and started again
    (empty: it keeps nothing on disk, like a restarted cache)."""
    server = Redis()
    server.start()
    try:
        run = Run(_shared_server(), "redis", GRANIAN_WORKERS="2", REFLEX_REDIS_URL=server.url)
        return await _outages(run, 2 if quick else 5, 3.0, server.stop, server.start)
    finally:
        server.stop()


async def drops(quick: bool) -> dict:
    """Cut sockets every second or two; half the clients come back within a second."""
    seconds, cut = (15 if quick else 60), 0
    run = Run(_shared_server(), "drops")
    async with new_http() as http:
        await run.begin(http, CLIENTS)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(random.uniform(0.5, 2.0))
            for c in random.sample(run.clients, 10):
                await c.drop()
                cut += 1
        result = await run.end()
    return {**result, "faults": cut}


def _ok(r: dict) -> bool:
    return (r["lost"] == 0 and r["duplicates"] == 0 and r["order_violations"] == 0 and r["acked"] > 0
            and not r.get("clients_not_recovered"))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.faults.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(SCENARIOS))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    support.test_environment()
    os.environ.pop("REFLEX_REDIS_URL", None)
    _shared_server()
    results, ok = {}, True
    for name in args.only.split(","):
        if name == "floods":  # its own figures (latency and memory), not the delivery invariants
            results[name] = floods.run(args.quick)
            ok = ok and results[name]["ok"]
            continue
        t = time.monotonic()
        print(f"faults: {name} ...", flush=True)
        r = asyncio.run(globals()[name](args.quick))
        r["seconds"] = round(time.monotonic() - t, 1)
        results[name] = r
        ok = ok and _ok(r)
        rec = r.get("recovery") or {}
        print(f"  {name}: {r['faults']} faults, {r['acked']} acknowledged, {r['stored']} stored, lost {r['lost']}, "
              f"duplicates {r['duplicates']}, order violations {r['order_violations']}, "
              f"recovery p50/p99 {rec.get('p50_ms', '-')}/{rec.get('p99_ms', '-')} ms, "
              f"{r['reconnects']} reconnects, {r['seconds']} s  {'OK' if _ok(r) else 'FAILED'}", flush=True)
        for k in ("sends_refused_visibly_while_down", "clients_not_recovered", "acked_not_shown"):
            if k in r:
                print(f"    {k}: {r[k]}")
    support.ARTIFACTS.mkdir(exist_ok=True)
    (support.ARTIFACTS / "faults.json").write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
