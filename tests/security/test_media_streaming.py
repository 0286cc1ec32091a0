"""A 150 MB file through the upload and serving routes: memory must not grow with the file size."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import tracemalloc

import httpx
import psutil
from starlette.applications import Starlette

from corpchat import config
from corpchat.api import media, uploads
from corpchat.services import files
from tests.security.test_media import ORIGIN, _user

MB = 1024 * 1024
TOTAL = 150 * MB
CHUNK = 64 * 1024


async def _body():
    block = os.urandom(CHUNK)
    for _ in range(TOTAL // CHUNK):
        yield block


async def _download(app, path: str, query: str, cookies: dict) -> tuple[int, int]:
    """Drive the ASGI app directly: httpx's ASGITransport would collect the whole response."""
    status, received = 0, 0
    request_sent, done = False, asyncio.Event()

    async def receive():
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays connected until the response is complete
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status, received
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            received += len(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"testserver"),
                         (b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode())],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    await app(scope, receive, send)
    return status, received


async def test_150mb_round_trip_in_bounded_memory(backend, monkeypatch):
    monkeypatch.setattr(config, "settings", dataclasses.replace(config.settings, max_upload_bytes=200 * MB))
    app = Starlette(routes=media.routes + uploads.routes)
    uid, cookies = _user()
    proc = psutil.Process()
    rss_before = proc.memory_info().rss
    tracemalloc.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN,
                                     cookies=cookies) as client:
            t0 = time.perf_counter()
            r = await client.post("/api/upload", params={"name": "big.bin"}, content=_body(),
                                  headers={"Origin": ORIGIN}, timeout=300)
            t_up = time.perf_counter() - t0
        assert r.status_code == 201, r.text
        _, peak_up = tracemalloc.get_traced_memory()
        rss_up = proc.memory_info().rss
        tracemalloc.reset_peak()
        path, _, query = r.json()["url"].partition("?")
        t0 = time.perf_counter()
        status, received = await _download(app, path, query, cookies)
        t_down = time.perf_counter() - t0
        _, peak_down = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = proc.memory_info().rss
    assert (status, received) == (200, TOTAL)
    print(f"\n[{backend.name}] upload 150 MB: {150 / t_up:.0f} MB/s, traced peak {peak_up / MB:.1f} MB, "
          f"RSS +{(rss_up - rss_before) / MB:.0f} MB; download: {150 / t_down:.0f} MB/s, "
          f"traced peak {peak_down / MB:.1f} MB, RSS total +{(rss_after - rss_before) / MB:.0f} MB")
    # A few write batches (1 MB) and S3 multipart parts (4 x 8 MB in flight), never the file.
    assert peak_up < 48 * MB
    assert peak_down < 8 * MB
    assert rss_after - rss_before < 100 * MB
    assert files.get(r.json()["file_id"]).size == TOTAL
