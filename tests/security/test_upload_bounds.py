"""What one user's uploads can make the server hold (19#5), attacked over real HTTP: the quota
counts bytes still in flight, a few uploads at a time per user, a trickling body is cut, and one
user's uploads leave the others their share of the pace."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests import support

MB = 1024 * 1024
QUOTA = 50 * MB
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def upload_app(tmp_path_factory):
    files_dir = tmp_path_factory.mktemp("bound-files")
    app = support.AppProcess(env={
        "STORAGE_DIR": str(files_dir), "USER_QUOTA_BYTES": str(QUOTA), "UPLOADS_PER_USER": "4",
        "UPLOAD_STALL_SECONDS": "2", "UPLOAD_MB_PER_SECOND": "40",
    }, log_name="upload-bounds").start()
    app.tmp_dir = Path(files_dir) / ".tmp"
    yield app
    app.stop()


async def _user(app) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=app.url, headers={"Origin": app.url}, timeout=60)
    r = await client.post("/api/register", data={"login": "u" + secrets.token_hex(5), "password": "password123",
                                                "password_repeat": "password123"})
    assert r.status_code == 303 and "error" not in r.headers["location"]
    return client


async def _body(size: int, chunk: int = 256 * 1024):
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        sent += n
        yield b"\0" * n


CUT = 0  # the connection was closed before an answer could be read (after an early refusal)


class Reply:
    def __init__(self, status: int, body: bytes):
        self.status_code, self.body = status, body

    def json(self) -> dict:
        return json.loads(self.body)


async def _upload(client: httpx.AsyncClient, size: int) -> Reply:
    """Over a raw socket, reading the answer while sending: a refusal comes before the body
    ends, and httpx (like some browsers) reports only the broken pipe then."""
    url = httpx.URL(client.base_url)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write((f"POST /api/upload?name=x.bin HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
                  f"Origin: {client.headers['origin']}\r\nCookie: {cookie}\r\nContent-Length: {size}\r\n"
                  "Connection: close\r\n\r\n").encode())

    async def send():
        async for chunk in _body(size):
            writer.write(chunk)
            await writer.drain()

    sending = asyncio.create_task(send())
    try:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            # The server answered a refusal and closed while we were still sending: on a loaded
            # machine the client's failed write can end the connection before the answer is read.
            return Reply(CUT, b"{}")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        body = await reader.readexactly(length)
    finally:
        sending.cancel()
        with contextlib.suppress(BaseException):
            await sending
        writer.close()
    return Reply(int(head.split(b" ")[1]), body)


def _tmp_bytes(app) -> int:
    try:
        return sum(e.stat().st_size for e in os.scandir(app.tmp_dir) if e.is_file())
    except FileNotFoundError:
        return 0


async def test_the_quota_counts_bytes_still_in_flight(upload_app):
    """Before: checked only when a body ended, so 20 parallel uploads held 1.96 GB of temporary
    files against a 50 MB quota. Now refused while reading, once in-flight bytes pass it."""
    client = await _user(upload_app)
    peak, done = 0, False

    async def watch():
        nonlocal peak
        while not done:
            peak = max(peak, _tmp_bytes(upload_app))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(*(_upload(client, 30 * MB) for _ in range(4)))
    done = True
    await watcher
    codes = sorted(r.status_code for r in results)
    print(f"\n4 x 30 MB against a 50 MB quota: {codes}, temporary files peaked at {peak / MB:.1f} MB")
    assert codes == [201, 413, 413, 413]
    assert all(r.json()["error"] == "quota_exceeded" for r in results if r.status_code == 413)
    assert peak <= QUOTA + 4 * MB  # the quota, plus the write batches being flushed
    await client.aclose()


async def test_a_user_has_a_few_uploads_read_at_a_time(upload_app):
    """Four are read at once; more wait their turn unread (a browser sends ten attachments at
    once), and past sixteen waiting they are refused."""
    client = await _user(upload_app)
    peak, done = 0, False

    async def watch():
        nonlocal peak
        while not done:
            peak = max(peak, sum(1 for e in os.scandir(upload_app.tmp_dir)) if upload_app.tmp_dir.exists() else 0)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(*(_upload(client, 2 * MB) for _ in range(22)))
    done = True
    await watcher
    codes = sorted(r.status_code for r in results)
    print(f"\n22 uploads at once from one user: {codes.count(201)} stored, {codes.count(429)} refused, "
          f"{codes.count(CUT)} cut after a refusal, at most {peak} being written at a time")
    assert codes.count(201) == 20 and codes.count(429) + codes.count(CUT) == 2, codes
    assert peak <= 4
    assert all(r.json()["error"] == "too_many_uploads" for r in results if r.status_code == 429)
    other = await _user(upload_app)  # someone else is not affected
    assert (await _upload(other, MB)).status_code == 201
    await client.aclose()
    await other.aclose()


async def test_a_trickling_body_is_cut(upload_app):
    """Before: a body sending a byte every few seconds held its socket and file for ever."""
    client = await _user(upload_app)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    port = int(upload_app.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall((f"POST /api/upload?name=slow.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Origin: {upload_app.url}\r\nCookie: {cookie}\r\nContent-Length: 100000\r\n\r\n").encode())
    sock.settimeout(0.5)
    start, reply = time.monotonic(), b""
    while time.monotonic() - start < 15 and b"\r\n\r\n" not in reply:
        try:
            sock.sendall(b"x")
            reply += sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
    elapsed = time.monotonic() - start
    sock.close()
    print(f"\na body trickling a byte each 0.5 s: answered {reply[:12]!r} after {elapsed:.1f} s")
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert elapsed < 8
    await asyncio.sleep(0.5)
    assert _tmp_bytes(upload_app) == 0  # nothing left behind
    await client.aclose()


async def test_one_users_uploads_leave_another_their_share(upload_app):
    """Before: one pace per worker, first come first served: one user's parallel uploads slowed
    another's from 0.22 s to 3.16 s."""
    hog, other = await _user(upload_app), await _user(upload_app)

    async def timed() -> float:
        t0 = time.monotonic()
        assert (await _upload(other, 8 * MB)).status_code == 201
        return time.monotonic() - t0

    alone = await timed()
    hogs = [asyncio.create_task(_upload(hog, 11 * MB)) for _ in range(4)]
    await asyncio.sleep(0.2)
    shared = await timed()
    await asyncio.gather(*hogs)
    print(f"\nanother user's 8 MB upload: {alone:.2f} s alone, {shared:.2f} s beside 4 x 11 MB of one user")
    assert shared <= max(2.5 * alone, alone + 0.5)
    await hog.aclose()
    await other.aclose()
