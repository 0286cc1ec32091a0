"""calls: one-to-one video calls between two headless Chromium processes on loopback (issue 23).

Two browser processes with fake cameras and microphones, as two people on two machines, call
each other 20 times through CorpChat's own signalling route and the PeerJS bridge. Per call:
- ring: the caller's click on 📹 -> the callee's tab shows the ringing dialog;
- set-up: the caller's click -> remote video playing on the caller's side (videoWidth > 0 and
  currentTime advancing), the callee's accept click (made as soon as it rings) included;
- callee's picture: the accept click -> remote video playing on the callee's side;
- signalling messages: every frame both browsers send over /api/peer/peerjs (CDP's view of the
  WebSocket, so the app pays nothing for the count).
Then hang-up by the callee and wait until both call screens are gone.
"""

from __future__ import annotations

import asyncio
import json
import time

from tests.bench import common

QUICK = {"calls": 5}
# The server lets one user start 5 calls at once, then 10 a minute (services/rate_limits.py):
# past the first 5 the bench waits its turn rather than measure the refusal.
CALL_BURST, CALL_EVERY_S = 5, 6.2
PLAYING = ("() => { const v = document.getElementById('call-remote-video');"
           " return !!v && v.videoWidth > 0 && v.currentTime > 0.2; }")


async def run(bench: common.Bench, res: common.Result, calls: int = 20) -> None:
    app = bench.main_app()
    figures = await asyncio.to_thread(_measure, app.url, bench.prefix("call"), calls)
    ring, setup, callee = (common.summary_ms(figures[k]) for k in ("ring", "setup", "callee"))
    signals = figures["signals"]
    res.details.update(ring=ring, setup=setup, callee=callee, signals=signals, kinds=figures["kinds"])
    res.add("ring: click -> callee's dialog p50 / p99", f"{ring['p50_ms']} / {ring['p99_ms']}", "ms")
    res.add("set-up: click -> caller's remote video playing p50", setup["p50_ms"], "ms")
    res.add("set-up: click -> caller's remote video playing p99", setup["p99_ms"], "ms")
    res.add("accept -> callee's remote video playing p50 / p99", f"{callee['p50_ms']} / {callee['p99_ms']}", "ms")
    res.add("signalling messages per call (both browsers) min / max",
            f"{min(signals)} / {max(signals)}" if signals else "-", "")
    res.note(f"{len(figures['setup'])} calls; message kinds: {', '.join(figures['kinds'])}")


def _measure(url: str, prefix: str, calls: int) -> dict:
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.conftest import CHROMIUM
    from tests.e2e.helpers import open_chat_with, register
    from tests.e2e.test_calls_browser import MEDIA_FLAGS

    out: dict = {"ring": [], "setup": [], "callee": [], "signals": [], "kinds": set()}
    with sync_playwright() as pw:
        browsers = [pw.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS) for _ in range(2)]
        try:
            pages = []
            for b in browsers:
                ctx = b.new_context(viewport={"width": 900, "height": 700}, locale="en-US", base_url=url,
                                    permissions=["camera", "microphone"])
                page = ctx.new_page()
                page.set_default_timeout(30_000)
                pages.append(page)
            caller, callee = pages
            names = [f"{prefix}a", f"{prefix}b"]
            for page, name in zip(pages, names, strict=True):
                register(page, name)
            open_chat_with(caller, names[1])
            caller.fill("#composer", "a call?")
            caller.press("#composer", "Enter")
            expect(callee.locator("#sidebar")).to_contain_text(names[0])

            sent: list[str] = []

            def follow(ws) -> None:
                if "/api/peer/peerjs" in ws.url:
                    ws.on("framesent", lambda payload: sent.append(payload if isinstance(payload, str) else ""))

            for page in pages:
                page.on("websocket", follow)
            last = 0.0
            for i in range(calls):
                sent.clear()
                if i >= CALL_BURST:
                    time.sleep(max(0.0, last + CALL_EVERY_S - time.perf_counter()))
                clicked = last = time.perf_counter()
                caller.click("#call-video")
                callee.locator("#call-accept").wait_for(state="visible")
                rang = time.perf_counter()
                callee.click("#call-accept")
                accepted = time.perf_counter()
                caller.wait_for_function(PLAYING, polling=10)
                playing = time.perf_counter()
                callee.wait_for_function(PLAYING, polling=10)
                callee_playing = time.perf_counter()
                out["ring"].append(rang - clicked)
                out["setup"].append(playing - clicked)
                out["callee"].append(callee_playing - accepted)
                callee.click("#call-hang-up")
                for page in pages:
                    expect(page.locator("#call-screen")).to_have_count(0)
                messages = [m for m in sent if m]
                out["signals"].append(len(messages))
                out["kinds"] |= {json.loads(m).get("type", "?") for m in messages}
        finally:
            for b in browsers:
                b.close()
    out["kinds"] = sorted(out["kinds"])
    return out
