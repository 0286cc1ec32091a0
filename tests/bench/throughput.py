"""throughput: 20 senders in a 20-member group (all with the group open), each
sending its next message as soon as its own echo (the stored message) comes
back, for 20 s.

messages/s = messages stored (echoed) per second; deliveries/s = first
arrivals of a message in another member's tab per second (19 per message);
send->last = from the send to the arrival in the last of the 19 other tabs.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections import defaultdict

from tests.bench import common
from tests.bench.client import Tab, new_http
from tests.bench.fanout import SENDING, connect_group, open_members

MEMBERS = 20
SECONDS = 20.0
TARGET_DELIVERIES = 10_000
QUICK = {"seconds": 5.0}
MARK = re.compile(r"TPQ(\d+)x(\d+)Q")


async def run(bench: common.Bench, res: common.Result, members: int = MEMBERS, seconds: float = SECONDS) -> None:
    app = bench.main_app()
    users, room = await connect_group(bench, app.url, members, "tp")
    async with new_http() as http:
        tabs = await open_members(http, app.url, users, room)
        try:
            before, me_before, t0 = common.usage(app), os.times(), time.perf_counter()
            with common.Profile(app, "throughput"):
                stats = await measure(tabs, seconds)
            after, me_after = common.usage(app), os.times()
            load_gen = ((me_after.user + me_after.system) - (me_before.user + me_before.system)) / (
                time.perf_counter() - t0) * 100
        finally:
            await common.close_tabs(tabs)
    res.details.update(stats)
    res.details["server_cpu_percent"] = round(common.cpu_percent_between(before, after), 1)
    res.details["load_generator_cpu_percent"] = round(load_gen, 1)
    res.add("messages/s", stats["messages_per_s"], "msg/s")
    res.add("deliveries/s", stats["deliveries_per_s"], "/s", f">= {TARGET_DELIVERIES:,}",
            stats["deliveries_per_s"] >= TARGET_DELIVERIES)
    res.add("send->last member p50", stats["last"]["p50_ms"], "ms")
    res.add("send->last member p99", stats["last"]["p99_ms"], "ms")
    res.add("send->own echo p50/p99", f"{stats['echo']['p50_ms']} / {stats['echo']['p99_ms']}", "ms")
    res.note(f"server CPU {res.details['server_cpu_percent']} % of one core, load generator (this process) "
             f"{res.details['load_generator_cpu_percent']} %; "
             f"{stats['incomplete']} messages not seen by every member within the run; "
             f"received per message (all {len(tabs)} tabs): {stats['frames_per_message']} frames, "
             f"{stats['bytes_per_message']:,} bytes")


async def measure(tabs: list[Tab], seconds: float, senders: int | None = None) -> dict:
    """The first `senders` tabs (all by default) send back to back; every tab receives."""
    send = common.handler("send_message")
    n_tabs = len(tabs)
    sent: dict[tuple[int, int], float] = {}
    arrivals: dict[tuple[int, int], list[float]] = defaultdict(list)
    echoes: list[float] = []
    wire = {"frames": 0, "bytes": 0}

    def hook(i: int):
        seen: set[tuple[int, int]] = set()

        def on_raw(raw: str, t: float) -> None:
            wire["frames"] += 1
            wire["bytes"] += len(raw)
            if "TPQ" not in raw:
                return
            for s, n in MARK.findall(raw):
                key = (int(s), int(n))
                if key[0] != i and key not in seen:
                    seen.add(key)
                    arrivals[key].append(t)
        return on_raw

    for i, tab in enumerate(tabs):
        tab.on_raw = hook(i)
    loop = asyncio.get_running_loop()
    t_start = time.perf_counter()
    deadline = t_start + seconds

    async def sender(i: int) -> int:
        tab, n = tabs[i], 0
        base_hook = tab.on_raw
        while time.perf_counter() < deadline and tab.connected:
            cid = uuid.uuid4().hex
            marker = f"TPQ{i}x{n}Q"
            echo = loop.create_future()

            def on_raw(raw: str, t: float, marker=marker, echo=echo) -> None:
                base_hook(raw, t)
                if not echo.done() and marker in raw and SENDING not in raw:
                    echo.set_result(t)

            tab.on_raw = on_raw
            t0 = await tab.emit(send, {"form_data": {"text": f"tp {marker}", "client_id": cid}})
            sent[(i, n)] = t0
            try:
                t_echo = await asyncio.wait_for(echo, 10)
            except TimeoutError:
                break
            echoes.append(t_echo - t0)
            n += 1
        tab.on_raw = base_hook
        return n

    counts = await asyncio.gather(*(sender(i) for i in range(n_tabs if senders is None else senders)))
    t_end = time.perf_counter()
    await asyncio.sleep(3)  # let deliveries still in flight arrive (they do not count towards the rate)
    duration = t_end - t_start
    stored = sum(counts)
    in_window = sum(1 for times in arrivals.values() for t in times if t <= t_end)
    last, incomplete = [], 0
    for key, t0 in sent.items():
        times = arrivals.get(key, [])
        if len(times) >= n_tabs - 1:
            last.append(max(times) - t0)
        else:
            incomplete += 1
    return {
        "seconds": round(duration, 2), "senders": n_tabs if senders is None else senders, "messages": stored,
        "messages_per_s": round(stored / duration, 1), "deliveries": in_window,
        "deliveries_per_s": round(in_window / duration, 1), "last": common.summary_ms(last),
        "echo": common.summary_ms(echoes), "incomplete": incomplete,
        "frames_per_message": round(wire["frames"] / max(1, stored), 1),
        "bytes_per_message": round(wire["bytes"] / max(1, stored)),
    }
