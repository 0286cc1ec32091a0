"""The file routes inside the real production app (Reflex + granian over real HTTP): wired in,
cookie-authenticated, and a 150 MB upload and download keep the server's memory flat."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil
import pytest

from tests import support

MB = 1024 * 1024
TOTAL = 150 * MB


@pytest.fixture(scope="module")
def media_app(tmp_path_factory):
    files_dir = tmp_path_factory.mktemp("app-files")
    app = support.AppProcess(env={"STORAGE_DIR": str(files_dir), "MAX_UPLOAD_BYTES": str(200 * MB)},
                             log_name="media-app").start()
    yield app
    app.stop()


def _rss_tree(pid: int) -> int:
    proc = psutil.Process(pid)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


@contextmanager
def _signed_in(app) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, headers={"Origin": app.url}, timeout=120) as client:
        login = "a" + secrets.token_hex(5)
        r = client.post("/api/register", data={"login": login, "password": "password123",
                                               "password_repeat": "password123"})
        assert r.status_code == 303 and "error" not in r.headers["location"], r.headers
        yield client


def test_upload_and_serve_through_the_real_app(media_app):
    anonymous = httpx.post(media_app.url + "/api/upload", content=b"x", headers={"Origin": media_app.url})
    assert anonymous.status_code == 401
    with _signed_in(media_app) as client:
        r = client.post("/api/upload", params={"name": "voice.webm"}, content=b"<html>hi</html>")
        assert r.status_code == 201, r.text
        url = r.json()["url"]
        got = client.get(url, headers={"Range": "bytes=1-4"})
        assert got.status_code == 206 and got.content == b"html"
        assert got.headers["content-security-policy"].startswith("sandbox")
        assert got.headers["content-disposition"].startswith("attachment;")
        assert httpx.get(media_app.url + url.replace("&s=", "&s=x")).status_code == 403


def test_150mb_through_the_real_app_in_bounded_memory(media_app):
    def body():
        block = os.urandom(256 * 1024)
        for _ in range(TOTAL // len(block)):
            yield block

    with _signed_in(media_app) as client:
        client.get("/api/media/warm-up")
        base = _rss_tree(media_app.proc.pid)
        t0 = time.perf_counter()
        r = client.post("/api/upload", params={"name": "big.bin"}, content=body())
        t_up = time.perf_counter() - t0
        assert r.status_code == 201, r.text
        after_up = _rss_tree(media_app.proc.pid)
        t0, received = time.perf_counter(), 0
        with client.stream("GET", r.json()["url"]) as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_raw(256 * 1024):
                received += len(chunk)
        t_down = time.perf_counter() - t0
        after_down = _rss_tree(media_app.proc.pid)
        too_big = client.post("/api/upload", content=b"x" * (201 * MB))
    assert received == TOTAL and too_big.status_code == 413
    print(f"\n[real app] upload 150 MB {150 / t_up:.0f} MB/s, download {150 / t_down:.0f} MB/s; "
          f"server RSS {base / MB:.0f} MB -> {after_up / MB:.0f} MB after upload -> {after_down / MB:.0f} MB")
    assert after_up - base < 60 * MB and after_down - base < 60 * MB
