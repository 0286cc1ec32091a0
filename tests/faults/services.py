"""A PostgreSQL cluster and a Redis server of the faults suite's own, on free loopback ports,
so stopping them (immediate mode, SIGKILL) hurts nothing else on the machine. Built from the
Debian packages the CI machine has (postgresql-15, redis-server)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests import support


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Postgres:
    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins:
            raise RuntimeError("the faults suite needs PostgreSQL's server binaries (apt-get install postgresql)")
        self.bin = Path(bins[-1]).parent
        self.port = support.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="corpchat-faults-pg-"))
        self.data = self.dir / "data"
        self.log = support.ARTIFACTS / f"faults-postgres-{self.port}.log"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]),
                       check=True, capture_output=True)
        support.ARTIFACTS.mkdir(exist_ok=True)
        self.log.touch()
        if os.geteuid() == 0:
            shutil.chown(self.log, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                                     "-o", opts, "-w", "start"]), check=True, capture_output=True)

    def stop(self, mode: str = "immediate") -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
                       capture_output=True)

    def destroy(self) -> None:
        self.stop("fast")
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self):
        self.port = support.free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
