"""fanout: one group of 200 connected members, each with the group open;
one member sends, time until the LAST of the other 199 tabs has the message.

Messages go one at a time (the next after every member has the previous one
and the sender its echo, plus a short pause). Each receiving tab records the
perf_counter time of the first frame carrying the message's marker.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.bench import common
from tests.bench.client import Tab, new_http

MEMBERS = 200
MESSAGES = 100
TARGET_P99_MS = 100.0
QUICK = {"members": 50, "messages": 20}
SENDING = '"status":"sending"'


class Probe:
    """Arrival times of one marker across a set of receiving tabs."""

    def __init__(self, tabs: list[Tab]):
        self.tabs = tabs
        self.marker = ""
        self.arrivals: dict[int, float] = {}
        self.done: asyncio.Future | None = None
        for i, tab in enumerate(tabs):
            tab.on_raw = self._hook(i)

    def _hook(self, i: int):
        def on_raw(raw: str, t: float) -> None:
            if self.marker and i not in self.arrivals and self.marker in raw:
                self.arrivals[i] = t
                if len(self.arrivals) == len(self.tabs) and self.done and not self.done.done():
                    self.done.set_result(t)
        return on_raw

    def arm(self, marker: str) -> asyncio.Future:
        self.marker, self.arrivals = marker, {}
        self.done = asyncio.get_running_loop().create_future()
        return self.done


async def connect_group(bench: common.Bench, url: str, members: int, tag: str):
    """Seed a group of `members` users, log them in, connect them and open the group."""
    users = common.create_users(bench.prefix(tag), members)
    room = common.create_group(f"bench {tag}", [u for u, _ in users])
    common.fill_room(room, [u for u, _ in users[:5]], 60, tag)
    return users, room


async def open_members(http, url: str, users, room: int, concurrency: int = 16) -> list[Tab]:
    cookies = await common.login_all(http, url, [name for _, name in users], concurrency)
    tabs = await common.open_tabs(http, url, cookies, concurrency, parse=False)
    open_room = common.handler("open_room")
    path = common.chat_state_path()
    sem = asyncio.Semaphore(concurrency)

    async def one(tab: Tab) -> None:
        async with sem:
            tab.parse = True
            await tab.call(open_room, {"room_id": room})
            if tab.get(path, "room_id") != room or tab.errors:
                raise RuntimeError(f"open_room failed: {tab.errors}")
            tab.parse = False

    await asyncio.gather(*(one(t) for t in tabs))
    return tabs


async def online_group(bench: common.Bench, http, url: str, members: int, tag: str, res: common.Result):
    """A seeded group whose members are all logged in, connected and have it open."""
    users, room = await connect_group(bench, url, members, tag)
    t = time.perf_counter()
    tabs = await open_members(http, url, users, room)
    res.note(f"{members} members logged in, connected and with the group open in {time.perf_counter() - t:.1f} s")
    return users, room, tabs


async def measure(tabs: list[Tab], messages: int, timeout: float = 10.0, pause: float = 0.05,
                  warmup: int = 5, senders: int = 1, receivers: list[Tab] | None = None,
                  before_send=None, tag: str = "FAN") -> dict:
    """The first `senders` tabs take turns sending (tab 0 alone by default); returns latency
    stats of the last (and of every) receiver, and losses. `receivers` defaults to the other
    tabs; `before_send(i)` (a coroutine function) runs before message i, warm-up included."""
    receivers = tabs[senders:] if receivers is None else receivers
    probe = Probe(receivers)
    send = common.handler("send_message")
    last, every, missing, incomplete = [], [], 0, 0
    for i in range(warmup + messages):
        if before_send is not None:
            await before_send(i)
        sender = tabs[i % senders]
        cid = uuid.uuid4().hex
        marker = f"{tag}{cid[:12]}"
        done = probe.arm(marker)
        echo: asyncio.Future = asyncio.get_running_loop().create_future()
        # The echo: the sender's frame with the message stored (no longer "sending").
        sender.on_raw = lambda raw, t, m=marker, f=echo: (not f.done() and m in raw and SENDING not in raw
                                                          and f.set_result(t))
        t0 = await sender.emit(send, {"form_data": {"text": f"{tag.lower()} {marker} {i}", "client_id": cid}})
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            pass
        if i >= warmup:
            got = dict(probe.arrivals)
            if len(got) < len(receivers):
                incomplete += 1
                missing += len(receivers) - len(got)
            else:
                last.append(max(got.values()) - t0)
            every.extend(t - t0 for t in got.values())
        try:
            await asyncio.wait_for(echo, timeout)
        except TimeoutError:
            pass
        await asyncio.sleep(pause)
    probe.marker = ""
    return {"last": common.summary_ms(last), "every": common.summary_ms(every), "messages": messages,
            "last_ms_series": [common.ms(x) for x in last],
            "receivers": len(receivers), "incomplete_messages": incomplete, "missing_deliveries": missing,
            "disconnected": sum(1 for t in tabs if not t.connected)}


async def run(bench: common.Bench, res: common.Result, members: int = MEMBERS, messages: int = MESSAGES) -> None:
    app = bench.main_app()
    async with new_http() as http:
        _, _, tabs = await online_group(bench, http, app.url, members, "fan", res)
        try:
            before = common.usage(app)
            with common.Profile(app, "fanout"):
                stats = await measure(tabs, messages)
            after = common.usage(app)
        finally:
            await common.close_tabs(tabs)
    res.details.update(stats)
    res.details["server_cpu_percent"] = round(common.cpu_percent_between(before, after), 1)
    last = stats["last"]
    res.add("send->last of 199 p50", last["p50_ms"], "ms")
    res.add("send->last of 199 p99", last["p99_ms"], "ms", f"<= {TARGET_P99_MS:g} ms",
            last["p99_ms"] <= TARGET_P99_MS and stats["missing_deliveries"] == 0)
    res.add("send->any member p50", stats["every"]["p50_ms"], "ms")
    res.add("missing deliveries", stats["missing_deliveries"], f"of {messages * (members - 1)}")
    res.note(f"server CPU during the measurement: {res.details['server_cpu_percent']} % of one core")
