"""Test plumbing shared by unit, security, e2e tests and benchmarks:
a fresh database per run and a production-mode app in its own process group."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def base_server_url() -> str:
    """An admin URL of the server that hosts the per-run databases."""
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    from corpchat.db import EMBEDDED_DATA_DIR, start_embedded

    return start_embedded(EMBEDDED_DATA_DIR.parent / "pg-test", database="postgres")


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    from corpchat.db import to_sqlalchemy_url

    return make_url(to_sqlalchemy_url(url)).set(database=name).render_as_string(hide_password=False)


def create_database(prefix: str = "corpchat_test") -> tuple[str, str]:
    """Create an empty database; returns (its URL, the admin URL)."""
    import psycopg

    admin = base_server_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_database(admin, name), admin


def drop_database(url: str, admin: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_environment() -> None:
    """Settings every test process (and the app it starts) runs with."""
    os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
    os.environ.setdefault("BCRYPT_ROUNDS", "4")  # the cost factor is not under test; speed is
    os.environ.setdefault("CORPCHAT_ENV", "prod")
    # Tests and benchmarks act far faster than people; tests/security/test_rate_limits.py
    # starts an app with the real limits.
    for name in ("SEND_BURST", "EDIT_BURST", "REACT_BURST", "AVATAR_BURST", "PROFILE_BURST", "OPEN_CHAT_BURST",
                 "NEW_TABS_BURST"):
        os.environ.setdefault(name, "1000000")
    os.environ.setdefault("TABS_PER_USER", "1000000")
    # Every test registers its users from 127.0.0.1; the per-address limit has its own tests.
    os.environ.setdefault("REGISTER_MAX_PER_IP", "100000")
    # The app plays being behind a reverse proxy at 127.0.0.1 (tests/security/test_http.py
    # sends X-Forwarded-For from there, and spoofs it from 127.0.0.x, which is not trusted).
    os.environ.setdefault("TRUSTED_PROXIES", "127.0.0.1")


def file_state(path: Path) -> tuple[int, bytes]:
    """(mtime in ns, content): what Make and git would notice."""
    return path.stat().st_mtime_ns, path.read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """`python -m corpchat.cli serve` (reflex run --env prod) on a free port."""

    def __init__(self, env: dict | None = None, port: int | None = None, log_name: str = "app",
                 backend_only: bool = False):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, PORT=str(self.port), APP_ORIGIN=self.url,
                        REFLEX_CORS_ALLOWED_ORIGINS=f"{self.url},http://localhost:{self.port}",
                        PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}", REFLEX_USE_NPM="1")
        self.env.update(env or {})
        if log_name != "app":
            # Its own web dir: a production build bakes its port into .web/env.json, so a second
            # app built into the shared dir sends the shared app's pages to the wrong port.
            self.env.setdefault("REFLEX_WEB_WORKDIR", str(ROOT / f".web-{log_name}"))
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{log_name}-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        # The event handlers and API routes without a frontend build: clients of the raw protocol
        # only (the faults suite restarts it 20 times; a build would be most of each restart).
        self.command = [sys.executable, "-m", "corpchat.cli", "serve"] if not backend_only else [
            sys.executable, "-m", "corpchat.reflex_launcher", "run", "--env", "prod", "--backend-only",
            "--backend-port", str(self.port), "--backend-host", "127.0.0.1"]

    def start(self, timeout: float = 600) -> AppProcess:
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited: {self.log_path.read_text()[-3000:]}")
            if self._ready():
                return self
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"app did not answer /ping in {timeout}s: {self.log_path.read_text()[-3000:]}")

    def _ready(self) -> bool:
        # The app's own word, not any 200 on the port: once CI saw /ping answered while Reflex
        # was still building, then the port refused the first page (some other listener).
        if self.command[2] == "corpchat.cli":
            return "CorpChat is ready" in self.log_path.read_text(errors="replace")
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=2) as r:
                return r.status == 200 and r.read(64).strip() == b'"pong"'
        except (OSError, http.client.HTTPException):
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_up() -> bool:
    """Whether the test Redis answers (tests that need it skip otherwise)."""
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except Exception:
        return False
