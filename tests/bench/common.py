"""Shared plumbing of the benchmark scenarios: the app under test, seeding,
statistics and server resource readings."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from tests import support

PASSWORD = "bench-password-1"
ROOT = support.ROOT
WEB_DIR = ROOT / ".web-bench"


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2) if not math.isnan(seconds) else math.nan


def summary_ms(values: list[float], ps=(50, 95, 99)) -> dict[str, float]:
    out = {f"p{p}_ms": ms(pct(values, p)) for p in ps}
    out["mean_ms"] = ms(sum(values) / len(values)) if values else math.nan
    out["max_ms"] = ms(max(values)) if values else math.nan
    out["n"] = len(values)
    return out


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    metric: str
    value: Any
    unit: str = ""
    target: str = ""
    ok: bool | None = None  # None: no target


@dataclass
class Result:
    scenario: str
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def add(self, metric: str, value: Any, unit: str = "", target: str = "", ok: bool | None = None) -> None:
        self.rows.append(Row(self.scenario, metric, value, unit, target, ok))
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value}"
        verdict = "" if ok is None else ("  OK" if ok else "  MISSED")
        print(f"  [{self.scenario}] {metric}: {shown} {unit}{'  (target ' + target + ')' if target else ''}{verdict}",
              flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  [{self.scenario}] {text}", flush=True)


# --------------------------------------------------------------------------
# The app under test and its database
# --------------------------------------------------------------------------
class Bench:
    """The database and app for one run; scenarios share the main app."""

    def __init__(self):
        support.test_environment()
        os.environ.pop("REFLEX_REDIS_URL", None)  # only the workers scenario uses Redis
        os.environ.setdefault("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        self.db_url, self.admin_url = support.create_database("corpchat_bench")
        os.environ["DATABASE_URL"] = self.db_url
        from corpchat.cli import migrate

        migrate(self.db_url)
        self.app: support.AppProcess | None = None
        self.suffix = secrets.token_hex(2)
        self._n = 0

    def app_env(self, **extra) -> dict:
        env = {"REFLEX_WEB_WORKDIR": str(WEB_DIR), "REFLEX_STATES_WORKDIR": str(WEB_DIR / ".states"),
               "REFLEX_BACKEND_HOST": "127.0.0.1", "GRANIAN_WORKERS": "1",
               "DB_POOL_SIZE": os.environ.get("DB_POOL_SIZE", "10")}
        # Experiments: BENCH_APP_ENV="REFLEX_STATE_MANAGER_MODE=memory,DB_POOL_SIZE=20" (the JSON records it).
        for pair in filter(None, os.environ.get("BENCH_APP_ENV", "").split(",")):
            key, _, value = pair.partition("=")
            env[key.strip()] = value.strip()
        env.update(extra)
        return env

    def start_app(self, log_name: str = "bench", **extra) -> support.AppProcess:
        t = time.monotonic()
        app = support.AppProcess(env=self.app_env(**extra), log_name=log_name).start()
        print(f"  app started in {time.monotonic() - t:.1f} s at {app.url} (log {app.log_path.name})", flush=True)
        return app

    def main_app(self) -> support.AppProcess:
        if self.app is None:
            self.app = self.start_app()
        return self.app

    def restart_main_app(self) -> support.AppProcess:
        """A fresh process (empty state manager) for scenarios that measure per-user memory."""
        if self.app is not None:
            self.app.stop()
        self.app = None
        return self.main_app()

    def close(self) -> None:
        if self.app is not None:
            self.app.stop()
        from corpchat.db import engine

        engine().dispose()
        support.drop_database(self.db_url, self.admin_url)

    def prefix(self, name: str) -> str:
        self._n += 1
        return f"b{self._n}{self.suffix}{name}"[:20]


# --------------------------------------------------------------------------
# Seeding (bulk SQL: fast, outside the measured part)
# --------------------------------------------------------------------------
_HASH: str | None = None


def password_hash() -> str:
    """bcrypt of PASSWORD with the cost factor the app is started with (BCRYPT_ROUNDS)."""
    global _HASH
    if _HASH is None:
        from corpchat.services.accounts import _hash

        _HASH = _hash(PASSWORD.encode())
    return _HASH


def sql(statement: str, params: dict | None = None, fetch: bool = False, bulk: bool = False):
    """One statement in its own transaction; bulk=True turns foreign-key triggers off
    for it (bulk loads whose rows are consistent by construction)."""
    from sqlalchemy import text

    from corpchat.db import engine

    with engine().begin() as conn:
        if bulk:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        result = conn.execute(text(statement), params or {})
        return [tuple(r) for r in result] if fetch else None


def settle_database(tables: str = "messages") -> None:
    """After a bulk load: VACUUM (sets hint bits, so later reads do not dirty and write every page
    again) and CHECKPOINT (writes the load out now): the scenarios after it measure themselves,
    not the aftermath of a 1M-row load (the chat list and capacity ran 2-3x slower in it)."""
    from corpchat.db import autocommit

    with autocommit() as conn:
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {tables}")
        try:
            conn.exec_driver_sql("CHECKPOINT")
        except Exception:  # needs superuser or pg_checkpoint: then the load settles on its own
            pass


def create_users(prefix: str, n: int) -> list[tuple[int, str]]:
    """n users `<prefix><i>` with PASSWORD; returns [(id, login)] in order."""
    rows = sql("""
        INSERT INTO users (login, password_hash, real_name, locale)
        SELECT :p || g, :h, 'Bench ' || :p || g, 'en' FROM generate_series(1, :n) g
        RETURNING id, login""", {"p": prefix, "h": password_hash(), "n": n}, fetch=True)
    return sorted(rows)


def create_group(name: str, member_ids: list[int]) -> int:
    """A group room (no service yet): Room(kind='group') + Participant rows."""
    room_id = sql("INSERT INTO rooms (kind, name, created_by) VALUES ('group', :n, :c) RETURNING id",
                  {"n": name, "c": member_ids[0]}, fetch=True)[0][0]
    sql("""INSERT INTO participants (room_id, user_id, role)
           SELECT :r, u, CASE WHEN u = :owner THEN 'owner' ELSE 'member' END FROM unnest(CAST(:m AS bigint[])) u""",
        {"r": room_id, "m": member_ids, "owner": member_ids[0]})
    return room_id


def fill_room(room_id: int, sender_ids: list[int], n: int, tag: str = "hist") -> None:
    """n messages (seq 1..n) from the given senders, one minute apart, ending now."""
    sql("""
        INSERT INTO messages (room_id, seq, sender_id, kind, text, client_id, created_at)
        SELECT :r, g, (CAST(:s AS bigint[]))[1 + (g % cardinality(CAST(:s AS bigint[])))], 'text',
               :tag || ' message ' || g || ' lorem ipsum dolor sit amet, consectetur adipiscing elit',
               NULL, now() - make_interval(mins => :n - g)
        FROM generate_series(1, :n) g""", {"r": room_id, "s": sender_ids, "n": n, "tag": tag})
    sql("UPDATE rooms SET last_seq = :n, last_message_at = now() WHERE id = :r", {"r": room_id, "n": n})


# --------------------------------------------------------------------------
# Logging in through the real route
# --------------------------------------------------------------------------
async def login_all(http, base_url: str, logins: list[str], concurrency: int = 16) -> list[str]:
    from tests.bench.client import login

    sem = asyncio.Semaphore(concurrency)

    async def one(name: str) -> str:
        async with sem:
            return await login(http, base_url, name, PASSWORD)

    return list(await asyncio.gather(*(one(n) for n in logins)))


async def open_tabs(http, base_url: str, cookies: list[str], concurrency: int = 16, parse: bool = True):
    from tests.bench.client import Tab

    sem = asyncio.Semaphore(concurrency)

    async def one(cookie: str) -> Tab:
        async with sem:
            return await Tab(http, base_url, cookie, parse=parse).connect("/")

    return list(await asyncio.gather(*(one(c) for c in cookies)))


async def close_tabs(tabs) -> None:
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)


def chat_state_path() -> str:
    from corpchat.state.chat import ChatState

    return ChatState.get_full_name()


def shown(v: dict) -> list[dict]:
    """The bubbles a tab's ChatState vars put on the page: settled, live (broadcast) and pending."""
    live = []
    if v.get("live_room") == v.get("room_id"):
        for k in v.get("live_order") or []:
            live += [m for m in v.get(f"live{k}") or [] if m["seq"] > (v.get("settled_seq") or 0)]
    return settled(v) + live + list(v.get("pending") or [])


def settled(v: dict) -> list[dict]:
    """A tab's settled window (ChatState sends it as `messages` + `messages_tail`)."""
    return list(v.get("messages") or []) + list(v.get("messages_tail") or [])


def handler(name: str) -> str:
    return f"{chat_state_path()}.{name}"


# --------------------------------------------------------------------------
# Server resources (the app's process group)
# --------------------------------------------------------------------------
def group_processes(app: support.AppProcess) -> list[psutil.Process]:
    pgid = os.getpgid(app.proc.pid)
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid:
                out.append(p)
        except (ProcessLookupError, psutil.Error, OSError):
            pass
    return out


@dataclass
class Usage:
    cpu_s: float  # user+system seconds of every process in the group
    rss_mb: float
    t: float


def usage(app: support.AppProcess) -> Usage:
    cpu = rss = 0.0
    for p in group_processes(app):
        try:
            with p.oneshot():
                c = p.cpu_times()
                cpu += c.user + c.system
                rss += p.memory_info().rss
        except psutil.Error:
            pass
    return Usage(cpu, rss / 2**20, time.monotonic())


def cpu_percent_between(a: Usage, b: Usage) -> float:
    return 100.0 * (b.cpu_s - a.cpu_s) / max(1e-9, b.t - a.t)


# --------------------------------------------------------------------------
# Optional profiling (BENCH_PROFILE=1): py-spy on the app's worker processes
# --------------------------------------------------------------------------
class Profile:
    """`with Profile(app, name):` records raw py-spy stacks of every worker into
    bench-results/profile-<name>-<pid>.txt when BENCH_PROFILE is set (py-spy must be
    installed: .venv/bin/pip install py-spy). Without BENCH_PROFILE it does nothing."""

    def __init__(self, app: support.AppProcess, name: str, rate: int = 100):
        self.app, self.name, self.rate = app, name, rate
        self.procs: list = []

    def __enter__(self) -> Profile:
        import shutil
        import subprocess

        spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
        if not os.environ.get("BENCH_PROFILE") or not os.path.exists(spy):
            return self
        out = ROOT / "bench-results"
        out.mkdir(exist_ok=True)
        for p in group_processes(self.app):
            if p.pid == self.app.proc.pid:
                continue  # the launcher (reflex run / granian supervisor), not a worker
            path = out / f"profile-{self.name}-{p.pid}.txt"
            self.procs.append(subprocess.Popen(
                [spy, "record", "-p", str(p.pid), "-r", str(self.rate), "-f", "raw", "-o", str(path),
                 "--nonblocking", "--threads"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for proc in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except Exception:
                proc.kill()
