"""`make faults` scenario `disk` (issue 24, item 1e): the folder for files is a 16 MB tmpfs, and
eight uploaders send 1 MB files concurrently until it has been full for a while, while the 50
clients of the other scenarios keep chatting. Every upload completes (served whole, same hash)
or is refused with 507 "storage_full" (the page's file.err_storage_full); no half file is served,
no temporary file is left from a refused one, and no chat message is lost, duplicated or
reordered. Where mounting is not permitted the scenario says so and is skipped."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.bench.client import COOKIE_NAME

SIZE_MB = 16
UPLOADERS = 8
SECONDS, QUICK_SECONDS = 40, 12


def _mount() -> Path | None:
    folder = Path(tempfile.mkdtemp(prefix="corpchat-disk-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(folder)],
                          capture_output=True)
    return folder if done.returncode == 0 else None


async def _uploader(http, url: str, cookie: str, deadline: float, out: dict) -> None:
    headers = {"Origin": url, "Cookie": f"{COOKIE_NAME}={cookie}"}
    n = 0
    while time.monotonic() < deadline:
        n += 1
        data = os.urandom(1024 * 1024 + n)
        try:
            async with http.post(f"{url}/api/upload?name=d{n}.bin", data=data, headers=headers) as r:
                status, body = r.status, await r.json(content_type=None)
        except (aiohttp.ClientError, ValueError) as exc:
            out["errors"].append(repr(exc))
            continue
        if status == 201:
            async with http.get(f"{url}{body['url']}", headers=headers) as got:
                whole = got.status == 200 and hashlib.sha256(await got.read()).digest() == hashlib.sha256(data).digest()
            out["kept" if whole else "half_served"] += 1
        elif status == 507 and body == {"error": "storage_full"}:
            out["refused"] += 1
        elif status == 429:
            out["throttled"] += 1
            await asyncio.sleep(1)
        else:
            out["errors"].append((status, body))


async def disk(quick: bool) -> dict:
    from tests.bench.client import new_http
    from tests.faults.run import CLIENTS, Run, _shared_server

    folder = _mount()
    if folder is None:
        print("  disk: mount -t tmpfs not permitted here: skipped")
        return {"faults": 0, "acked": 1, "stored": 0, "lost": 0, "duplicates": 0, "order_violations": 0,
                "reconnects": 0, "skipped": "mount not permitted"}
    try:
        run = Run(_shared_server(), "disk", STORAGE_DIR=str(folder), USER_QUOTA_BYTES="0",
                  UPLOADS_PER_MINUTE="100000")
        out = {"kept": 0, "refused": 0, "half_served": 0, "throttled": 0, "errors": []}
        async with new_http() as http:
            await run.begin(http, CLIENTS)
            deadline = time.monotonic() + (QUICK_SECONDS if quick else SECONDS)
            await asyncio.gather(*(_uploader(http, run.app.url, c.cookie, deadline, out)
                                   for c in run.clients[:UPLOADERS]))
            left = os.listdir(folder / ".tmp")
            result = await run.end()
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
    broken = out["half_served"] or out["errors"] or left or not out["refused"] or not out["kept"]
    print(f"    uploads: {out['kept']} kept whole, {out['refused']} refused with 507, {out['half_served']} half "
          f"served, {out['throttled']} throttled, {len(out['errors'])} other errors, {len(left)} temporary files left")
    return {**result, "faults": out["refused"], "uploads": {**out, "errors": out["errors"][:5], "tmp_left": left},
            "clients_not_recovered": ["uploads broken"] if broken else result.get("clients_not_recovered")}
