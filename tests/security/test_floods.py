"""Floods (issue 24, item 3), quick versions: one hostile client floods a real backend while an
honest pair measures send->receive latency over the raw protocol and the server RSS is sampled.

Flood latency target: the honest pair's p99 <= 250 ms, the benchmarks' target for delivery in a
busy group (a 1,000-member group's send -> last member). The 25 ms target is for a quiet
private chat; here the flooder, the honest pair and the server share 2 cores (with the rest of
CI), and a flood that is cut off still costs the server the parsing of what it refuses. Most
floods stay near 25-60 ms (the issue 24 note has the figures); the name changes pushed to 200
contacts' tabs reached 153 ms in one CI run against 57 ms on a quiet machine."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import statistics
import time

import httpx
import psutil
import pytest

from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.state.chat import ChatState
from corpchat.state.profile import ProfileState
from tests import support
from tests import wsclient as w

PASSWORD = "correct horse 12"
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731
FLOOD_P99 = 0.250
# A few seconds per flood in make test; tests/faults/floods.py runs the same floods for longer.
FLOOD_SECONDS = float(os.environ.get("FLOODS_SECONDS", "4"))
RSS_GROWTH = 150 * 2**20
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def flood_app():
    app = support.AppProcess(env={"SEND_BURST": "30", "SEND_PER_MINUTE": "600",
                                  # the production defaults (tests/support.py lifts them for other tests)
                                  "NEW_TABS_BURST": "200", "NEW_TABS_PER_MINUTE": "600", "TABS_PER_USER": "20",
                                  "USER_QUOTA_BYTES": str(20 * 2**20),
                                  "PROFILE_BURST": "10", "PROFILE_PER_MINUTE": "20"},
                             log_name="floods", backend_only=True).start()
    yield app
    app.stop()


def rss(app) -> int:
    """Resident memory of the server's whole process tree (the launcher and its worker)."""
    root = psutil.Process(app.proc.pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class Honest:
    """A second user pair: anna sends to boris every 200 ms (within her own send bucket), timing each delivery."""

    def __init__(self, url: str):
        self.url, self.latencies, self.tabs = url, [], []

    async def open(self) -> Honest:
        suffix = secrets.token_hex(3)
        anna, boris = [await w.register(self.url, f"fl{n}{suffix}", PASSWORD) for n in "ab"]
        self.room = rooms.open_private(anna.user_id, boris.user_id)
        msg_service.send_sync(anna.user_id, self.room, "hi", secrets.token_hex(8))
        for s in (anna, boris):
            tab = w.ReflexClient(self.url, s)
            await tab.connect("/")
            await tab.call(H("open_room"), room_id=self.room)
            self.tabs.append(tab)
        return self

    async def measure(self, seconds: float) -> list[float]:
        sender, receiver = self.tabs
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            text = f"honest {secrets.token_hex(4)}"
            start = time.monotonic()
            await sender.emit(H("send_message"), {"form_data": {"text": text, "client_id": secrets.token_hex(8)}})
            await receiver.wait_for(lambda c, t=text: t in {m["text"] for k in range(8)
                                                           for m in c.get(ChatState, f"live{k}") or []}, timeout=10)
            out.append(time.monotonic() - start)
            await asyncio.sleep(0.2)
        self.latencies += out
        return out

    async def close(self) -> None:
        for tab in self.tabs:
            await tab.close()


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def run_flood(app, name: str, flood, seconds: float = FLOOD_SECONDS) -> dict:
    honest = await Honest(app.url).open()
    try:
        await honest.measure(1.0)  # warm
        before = rss(app)
        peak = [before]

        async def sample():
            while True:
                peak.append(rss(app))
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        flooding = asyncio.create_task(flood(seconds))
        during = await honest.measure(seconds)
        refused = await flooding
        sampler.cancel()
        await asyncio.sleep(1.0)
        after = rss(app)
        figures = {"p50": statistics.median(during), "p99": p(during, 0.99), "n": len(during),
                   "before": before, "peak": max(peak), "after": after, "refused": refused}
        print(f"\n{name}: honest p50 {figures['p50'] * 1000:.1f} ms p99 {figures['p99'] * 1000:.1f} ms "
              f"({len(during)} msgs); RSS before {before >> 20} MB peak {max(peak) >> 20} MB "
              f"after {after >> 20} MB; refused/cut: {refused}")
        assert figures["p99"] <= FLOOD_P99, figures
        assert after < before + RSS_GROWTH, figures
        return figures
    finally:
        await honest.close()


async def _mallory(app) -> w.ReflexClient:
    suffix = secrets.token_hex(3)
    mallory = await w.register(app.url, f"flm{suffix}", PASSWORD)
    victim = await w.register(app.url, f"flv{suffix}", PASSWORD)
    room = rooms.open_private(mallory.user_id, victim.user_id)
    msg_service.send_sync(victim.user_id, room, "hi", secrets.token_hex(8))
    tab = w.ReflexClient(app.url, mallory, keep_frames=False)
    await tab.connect("/")
    await tab.call(H("open_room"), room_id=room)
    return tab


async def test_an_event_flood_is_cut_by_the_send_bucket(flood_app):
    """(a) sends and unknown-handler events at up to 2,000/s from one socket."""
    tab = await _mallory(flood_app)
    toasts = []
    tab.on_frame = lambda f: toasts.extend(w.ReflexClient.error_toasts([f]))

    async def flood(seconds: float) -> str:
        sent, end = 0, time.monotonic() + seconds
        while time.monotonic() < end and tab.connected:
            tick = time.monotonic()
            for i in range(100):
                if i % 2:
                    form = {"text": "spam", "client_id": secrets.token_hex(8)}
                    await tab.emit(H("send_message"), {"form_data": form})
                else:
                    await tab.emit(f"{w.state_path(ChatState)}.no_such_handler", {})
                sent += 1
            await asyncio.sleep(max(0.0, 0.05 - (time.monotonic() - tick)))
        return f"{sent} events sent, {sum('too fast' in t for t in toasts)} sends refused by the bucket, " \
               f"socket {'open' if tab.connected else 'cut'}"

    try:
        await run_flood(flood_app, "event flood", flood)
    finally:
        await tab.close()


async def test_megabyte_frames_are_cut_at_the_frame_cap(flood_app):
    """(b) 1 MB and 16 MB frames: the socket is closed by the server's frame cap."""
    suffix = secrets.token_hex(3)
    mallory = await w.register(flood_app.url, f"flb{suffix}", PASSWORD)

    async def flood(seconds: float) -> str:
        cut = sent = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            tab = w.ReflexClient(flood_app.url, mallory, keep_frames=False)
            try:
                await tab.connect("/")
                size = 16 * 2**20 if sent % 4 == 3 else 2**20
                await tab.emit(H("send_message"), {"form_data": {"text": "x" * size, "client_id": "big"}})
                sent += 1
                try:
                    await asyncio.wait_for(tab.disconnected.wait(), 3)
                    cut += 1
                except TimeoutError:
                    pass
            finally:
                await tab.close()
        return f"{sent} big frames, {cut} sockets cut"

    figures = await run_flood(flood_app, "big frames", flood)
    # Frames over the cap cost their sockets (the count parsed: "130 sockets cut" contains "0 sockets cut").
    sent, cut = (int(n) for n in re.fullmatch(r"(\d+) big frames, (\d+) sockets cut", figures["refused"]).groups())
    assert sent and cut > 0, figures["refused"]


async def _open(app, session, route: str = "/", address: str = "192.0.2.66") -> w.ReflexClient | None:
    # Mallory's own address, behind the trusted proxy: the honest pair is at 127.0.0.1.
    tab = w.ReflexClient(app.url, session, keep_frames=False, timeout=5, headers={"X-Forwarded-For": address})
    try:
        await tab.connect(route, wait_hydrated=False)
        return tab
    except Exception:
        await tab.close()
        return None


async def test_many_sockets_of_one_user_are_capped(flood_app):
    """(c) 500 sockets of one user from one address: TABS_PER_USER (20 by default) refuses the
    rest at connect. Before that cap only the per-address bucket (NEW_TABS_BURST, 200) did, and
    the ~225 tabs loading at once held the honest pair's messages up to p99 290-770 ms."""
    mallory = await w.register(flood_app.url, f"flc{secrets.token_hex(3)}", PASSWORD)
    held: list[w.ReflexClient] = []

    async def flood(seconds: float) -> str:
        refused = 0
        for _ in range(20):
            batch = await asyncio.gather(*[_open(flood_app, mallory) for _ in range(25)])
            held.extend(t for t in batch if t)
            refused += sum(t is None for t in batch)
        return f"500 sockets: {len(held)} open, {refused} refused at connect"

    try:
        figures = await run_flood(flood_app, "500 sockets", flood)
        assert len(held) <= 20, figures
    finally:
        await asyncio.gather(*[t.close() for t in held])


async def test_connect_disconnect_churn_is_capped_by_the_new_tab_bucket(flood_app):
    """(d) presence churn: one user opening and closing tabs in a loop; each new tab token
    draws from the per-address bucket, so the loop runs dry instead of churning presence."""
    mallory = await w.register(flood_app.url, f"fld{secrets.token_hex(3)}", PASSWORD)

    async def flood(seconds: float) -> str:
        opened = refused = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            tab = await _open(flood_app, mallory)
            if tab is None:
                refused += 1
                await asyncio.sleep(0.01)
                continue
            opened += 1
            await tab.close()
        return f"churn: {opened} connects, {refused} refused"

    await run_flood(flood_app, "presence churn", flood)


async def test_upload_and_discard_loops_are_cut_by_the_quota(flood_app):
    """(f) 256 KB uploads in a loop, never sent: unsent uploads count against the user's quota
    (USER_QUOTA_BYTES, 20 MB here) until the sweep, so the loop is refused once it is full."""
    mallory = await w.register(flood_app.url, f"flf{secrets.token_hex(3)}", PASSWORD)
    body = b"\0" * (256 * 1024)

    async def flood(seconds: float) -> str:
        codes: dict[str, int] = {}
        end = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=flood_app.url, timeout=10) as http:
            while time.monotonic() < end:
                try:
                    r = await http.post("/api/upload", params={"name": "x.bin"}, content=body,
                                        headers={"Origin": flood_app.url, "Cookie": mallory.cookie_header})
                    key = str(r.status_code)
                except httpx.TransportError:  # refused before the body was read: the connection closes
                    key = "cut"
                codes[key] = codes.get(key, 0) + 1
        return f"uploads by status {dict(sorted(codes.items()))}"

    figures = await run_flood(flood_app, "upload and discard", flood)
    codes = eval(figures["refused"].split("status ")[1])  # noqa: S307 - our own dict repr
    stored = sum(v for k, v in codes.items() if k.startswith("2"))
    assert stored <= 80, codes  # 20 MB of 256 KB files
    assert sum(codes.values()) > stored, codes


async def test_a_name_flipped_for_200_contacts_is_cut_by_the_profile_bucket(flood_app):
    """(e) name changes in a loop pushed to 200 contacts with open tabs: the profile bucket
    (PROFILE_BURST 10, 20/min) refuses the loop, so contacts get a bounded number of frames."""
    suffix = secrets.token_hex(3)
    mallory = await w.register(flood_app.url, f"fle{suffix}", PASSWORD)
    contacts = await asyncio.gather(*[w.register(flood_app.url, f"flec{suffix}{i}", PASSWORD) for i in range(200)])
    for c in contacts:
        msg_service.send_sync(c.user_id, rooms.open_private(c.user_id, mallory.user_id), "hi", secrets.token_hex(8))
    # An office of contacts behind a few addresses, so their tabs do not drain 127.0.0.1's new-tab bucket.
    tabs = [w.ReflexClient(flood_app.url, c, keep_frames=False, headers={"X-Forwarded-For": f"192.0.2.{100 + i // 50}"})
            for i, c in enumerate(contacts)]
    for i in range(0, 200, 20):
        await asyncio.gather(*[t.connect("/") for t in tabs[i:i + 20]])
    flipper = w.ReflexClient(flood_app.url, mallory)
    await flipper.connect("/profile")
    before = sum(t.frame_count for t in tabs)

    async def flood(seconds: float) -> str:
        done = refused = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            frames = await flipper.call(w.handler_name(ProfileState, "save_profile"), form_data={
                "real_name": f"Mallory {done}", "bio": "", "gender": "unspecified", "birth": ""})
            refused += any("too fast" in t for t in w.ReflexClient.error_toasts(frames))
            done += 1
        return f"{done} name changes, {refused} refused; frames to 200 contact tabs: " \
               f"{sum(t.frame_count for t in tabs) - before}"

    try:
        figures = await run_flood(flood_app, "profile flips to 200 contacts", flood)
        frames = int(figures["refused"].rsplit(": ", 1)[1])
        assert frames <= 200 * 15, figures  # the burst and what the loop's seconds refilled
    finally:
        await asyncio.gather(*[t.close() for t in (*tabs, flipper)])


async def test_a_user_at_the_tab_cap_gets_a_tab_again_once_one_closes(flood_app):
    """The cap counts open sockets, not tabs ever opened: closing tabs frees their places."""
    user = await w.register(flood_app.url, f"flt{secrets.token_hex(3)}", PASSWORD)
    here = "192.0.2.77"  # an address of its own: the other floods drained 192.0.2.66's new-tab bucket
    held = [t for t in await asyncio.gather(*[_open(flood_app, user, address=here) for _ in range(20)]) if t]
    try:
        assert len(held) == 20
        assert await _open(flood_app, user, address=here) is None  # the 21st
        await asyncio.gather(*[t.close() for t in held[:5]])
        del held[:5]
        await asyncio.sleep(0.5)  # the server hears the goodbyes
        again = [t for t in await asyncio.gather(*[_open(flood_app, user, address=here) for _ in range(5)]) if t]
        held.extend(again)
        assert len(again) == 5
    finally:
        await asyncio.gather(*[t.close() for t in held])
