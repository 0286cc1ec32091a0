"""`python -m corpchat.cli <command>`: what `make run` and `make test` call.

  init-env   write a random JWT_SECRET into .env when none is set
  db-url     print the database URL (starting the embedded server if needed)
  migrate    alembic upgrade head
  serve      all of the above, then `reflex run --env prod` (as a child process)
  stop-db    stop the embedded PostgreSQL (`make stop`)
  create-user LOGIN   an account made by the administrator (the password from the terminal
             or the first line of stdin); the way in with REGISTRATION=closed
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request

from corpchat.config import PROJECT_ROOT, origins

ENV_FILE = PROJECT_ROOT / ".env"


def init_env() -> None:
    existing = ENV_FILE.read_text() if ENV_FILE.exists() else ""
    if os.environ.get("JWT_SECRET") or "JWT_SECRET=" in existing:
        return
    with ENV_FILE.open("a") as f:
        f.write(f"JWT_SECRET={secrets.token_urlsafe(48)}\n")
    os.chmod(ENV_FILE, 0o600)
    print("wrote a new random JWT_SECRET to .env")


def db_url() -> str:
    from corpchat.db import database_url

    return database_url()


def migrate(url: str | None = None) -> None:
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    if url:
        cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")


def serve() -> None:
    init_env()
    # .env may have just been written: load it before the settings are read.
    from dotenv import load_dotenv

    load_dotenv(ENV_FILE, override=False)
    from corpchat.config import load
    from corpchat.runtime_checks import check_startup

    settings = load()
    check_startup(settings)
    url = db_url()
    migrate(url)
    env = dict(os.environ, DATABASE_URL=url, REFLEX_USE_NPM="1")
    if settings.redis_url:
        # Each tab's events are applied by the worker holding its socket (realtime/router.py),
        # so that worker may keep the tab's Redis lock while nobody else wants it:
        # measured fan-out to 200 on 2 workers p99 764 ms -> 160 ms.
        env.setdefault("REFLEX_OPLOCK_ENABLED", "true")
        env.setdefault("REFLEX_OPLOCK_HOLD_TIME", "5s")
    port = env.get("PORT", "3000")
    env.setdefault("APP_ORIGIN", f"http://127.0.0.1:{port}")
    cmd = [sys.executable, "-m", "corpchat.reflex_launcher", "run", "--env", "prod",
           "--frontend-port", port, "--backend-port", port, "--backend-host", settings.bind_address]
    local = "127.0.0.1" if settings.bind_address in ("0.0.0.0", "::") else settings.bind_address
    sys.exit(_run_until_stopped(cmd, env, f"http://{local}:{port}/ping", origins(env["APP_ORIGIN"])[0]))


def _run_until_stopped(cmd: list[str], env: dict, ping: str, open_at: str) -> int:
    """Run Reflex as a child and say where to open the app once it answers.

    Reflex's own last line names the bind address (http://0.0.0.0:3000/), which the
    WebSocket's Origin check refuses: ours comes last, and only when /ping answers.
    """
    child = subprocess.Popen(cmd, env=env)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        while child.poll() is None:
            if _answers(ping):
                print(f"\nCorpChat is ready. Open {open_at}\n", flush=True)
                break
            time.sleep(0.5)
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        return child.wait()


def _answers(url: str) -> bool:
    """Whether Reflex itself answers: another listener that briefly held the port (an SPA
    server answers every path with 200) or a socket connected to itself is not the app."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and response.read(64).strip() == b'"pong"'
    except (OSError, http.client.HTTPException):
        return False


def create_user(login: str) -> int:
    """An account made by the administrator (REGISTRATION=closed), the password asked twice."""
    import getpass

    from corpchat.services import accounts
    from corpchat.services.errors import ServiceError

    migrate(db_url())
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    repeat = getpass.getpass("Repeat: ") if sys.stdin.isatty() else password
    try:
        identity = accounts.register(login, password, repeat, by_admin=True)
    except ServiceError as exc:
        print(f"not created: {exc.key}")
        return 1
    print(f"created {identity.login} (id {identity.user_id})")
    return 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "init-env":
        init_env()
    elif command == "db-url":
        print(db_url())
    elif command == "migrate":
        migrate()
    elif command == "serve":
        serve()
    elif command == "create-user":
        return create_user(argv[2] if len(argv) > 2 else "")
    elif command == "stop-db":
        from corpchat.db import stop_embedded

        print("stopped the embedded PostgreSQL" if stop_embedded() else "the embedded PostgreSQL was not running")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
