"""signalling: how many concurrent one-to-one calls' signalling one worker carries while a
separate pair's chat latency p99 stays <= 25 ms (issue 23).

No browser: each call is two fresh users (distinct users, so the per-user call and signalling
limits see one call each, as in an office). Per call, through the real server path: both log in
(POST /api/login), open a tab (Reflex socket, hydrated), the caller's tab runs `start_call`, the
callee's tab waits for the ring and runs `accept_call`; each tab's own state gives its peer id and
token, with which both open /api/peer/peerjs (session cookie, our Origin). Then what a PeerJS
call sends: the dialling side (the acceptor, as in the app) an OFFER of Chrome-like SDP
(SDP_BYTES), the other an ANSWER once the offer arrived, each side CANDIDATES trickled at ICE
gathering's pace (CANDIDATE_AT), and while the call runs a HEARTBEAT every 5 s per socket, which
the server reads and does not relay (that is all PeerJS sends during a call).

Steps: 0 calls (the baseline), then more calls up to each N, set up at SETUP_RATE calls a second
(open loop; far above an office's real rate) on top of the calls already running; then a WINDOW
with the N calls running. Relay latency: from just before a message is written to the sender's
socket to its arrival at the peer's socket (one process, one clock). Chat latency: a separate
pair in its own process (so the call load's client work does not delay its readings), one
message at a time every CHAT_GAP, measured as the `latency` scenario does; its samples are
split by the phase they were sent in. The verdict per step is the running window's chat p99
(and every call up, every message delivered). After the ramp, with every call ended, one more
window measures the chat pair alone again, and each window says how much of the machine other
processes used: a window in which they used more than BUSY_PCT is measured again (up to RETRIES,
the quietest counts) and, if still busy, reported but not judged. Calls end with a hang-up from
the caller's tab; every socket is closed (the users go with the bench database).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import time
from dataclasses import dataclass, field

from tests.bench import common
from tests.bench.peerclient import CANDIDATE_AT, HEARTBEAT_S, SDP_BYTES, Load, Sock, sdp

# 200 calls fill the default budget; to look further on a quiet machine, e.g.
# BENCH_SIGNALLING_STEPS=0,200,400,800 BENCH_SIGNALLING_BUDGET=400 python -m tests.bench.run --only signalling
STEPS = [int(n) for n in os.environ.get("BENCH_SIGNALLING_STEPS", "0,10,50,100,200").split(",")]
WINDOW = 10.0
SETUP_RATE = 5.0  # new calls a second
MAX_SETTING_UP = 40  # calls in set-up at once, so a slow server backs the arrivals up, not piles them
BUDGET = float(os.environ.get("BENCH_SIGNALLING_BUDGET", "130"))  # seconds of load (a shared machine: short)
CHAT_GAP = 0.02  # ~40 samples a second: a p99 over a 10 s window is not one hiccup
TARGET_P99_MS = 25.0
# A window in which other processes used more of the machine than this is not judged against the
# target: on this shared 2-core machine their load alone put the chat pair's p99 at 40-300 ms with
# no call running (the baselines), and 28 % of it already at 34 ms, so such a miss says nothing
# about the calls (with under 3 % the p99 stayed at 6-9 ms up to 200 calls).
BUSY_PCT = 20.0
RETRIES = 3  # windows at most per step
QUICK = {"steps": [0, 5, 10], "window": 5.0, "budget": 60.0}


def _chat_main(conn, url: str, users: list) -> None:
    asyncio.run(_chat(conn, url, users))


async def _chat(conn, url: str, users: list) -> None:
    from tests.bench import latency
    from tests.bench.client import new_http

    path, send = common.chat_state_path(), common.handler("send_message")
    samples: list[tuple[float, float]] = []  # (sent at, monotonic clock; latency s)
    try:
        async with new_http() as http:
            tabs = await latency.open_pair(http, url, users)
            conn.send("ready")
            try:
                k = 0
                while True:
                    if conn.poll():
                        cmd = conn.recv()
                        conn.send(samples)
                        samples = []
                        if cmd == "stop":
                            return
                    got: list[float] = []
                    t = time.monotonic()
                    await latency._exchange(tabs if k % 2 == 0 else tabs[::-1], path, send, 1, got, [])
                    samples.append((t, got[0]))
                    k += 1
                    await asyncio.sleep(CHAT_GAP)
            finally:
                await common.close_tabs(tabs)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


@dataclass
class Call:
    users: list  # [(id, login)] caller, callee
    room: int
    tabs: list = field(default_factory=list)
    socks: list = field(default_factory=list)
    got: int = 0
    expected: int = 2 * (1 + len(CANDIDATE_AT))
    done: asyncio.Event = field(default_factory=asyncio.Event)
    setup_s: float = 0.0


async def _set_up(load: Load, http, call: Call) -> None:
    from tests.bench.client import COOKIE_NAME, Tab

    t0 = time.monotonic()
    path = common.chat_state_path()
    cookies = await common.login_all(http, load.url, [name for _, name in call.users])
    call.tabs = [Tab(http, load.url, c, parse=True) for c in cookies]
    await asyncio.gather(*(t.connect("/") for t in call.tabs))
    caller, callee = call.tabs
    ringing = callee.until(lambda t: t.get(path, "call_phase") == "ringing")
    await caller.call(common.handler("start_call"), {"room_id": call.room, "kind": "video"})
    await asyncio.wait_for(ringing, 15)
    await callee.call(common.handler("accept_call"))
    seats = [(t.get(path, "call_peer_id"), t.get(path, "call_peer_token")) for t in call.tabs]
    if caller.errors or callee.errors or not all(p for p, _ in seats):
        raise RuntimeError(f"call not set up: {(caller.errors + callee.errors)[-1:]}")
    ws_url = load.url.replace("http", "ws", 1) + "/api/peer/peerjs?key=corpchat&version=1.5.5"
    for cookie, (peer_id, token) in zip(cookies, seats, strict=True):
        ws = await http.ws_connect(f"{ws_url}&id={peer_id}&token={token}", max_msg_size=0,
                                   headers={"Origin": load.url, "Cookie": f"{COOKIE_NAME}={cookie}"})
        call.socks.append(Sock(load, ws, call))
    await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in call.socks)), 10)
    (a, b), (pa, pb) = call.socks, [p for p, _ in seats]
    # the acceptor dials (it got the caller's peer id), as the app's bridge does
    await b.send("OFFER", pa, {"sdp": {"type": "offer", "sdp": sdp("offer")}, "type": "media",
                               "connectionId": "mc_b", "browser": "chrome", "metadata": {}})
    trickle = asyncio.get_running_loop().create_task(b.trickle(pa))
    await asyncio.wait_for(a.got_offer.wait(), 10)
    await a.send("ANSWER", pb, {"sdp": {"type": "answer", "sdp": sdp("answer")}, "type": "media",
                                "connectionId": "mc_b", "browser": "chrome"})
    await a.trickle(pb)
    await trickle
    await asyncio.wait_for(call.done.wait(), 10)
    call.setup_s = time.monotonic() - t0
    for s in call.socks:
        s.beat = asyncio.get_running_loop().create_task(s.heartbeats())


async def _end(call: Call) -> None:
    if call.tabs and call.tabs[0].connected:
        with contextlib.suppress(Exception):
            await call.tabs[0].call(common.handler("hang_up"), timeout=10)
    await asyncio.gather(*(s.close() for s in call.socks), return_exceptions=True)
    await common.close_tabs(call.tabs)


async def _add_calls(load: Load, http, calls: list[Call], live: list[Call], failed: list[str]) -> None:
    """Start each call 1/SETUP_RATE s after the previous one, whether or not that one is up yet."""
    gate = asyncio.Semaphore(MAX_SETTING_UP)

    async def one(call: Call) -> None:
        async with gate:
            live.append(call)
            try:
                await _set_up(load, http, call)
            except Exception as exc:
                failed.append(f"{type(exc).__name__}: {exc}"[:120])

    tasks = []
    t0 = time.monotonic()
    for i, call in enumerate(calls):
        await asyncio.sleep(max(0.0, t0 + i / SETUP_RATE - time.monotonic()))
        tasks.append(asyncio.get_running_loop().create_task(one(call)))
    await asyncio.gather(*tasks)


async def _window(bench: common.Bench, app, parent, seconds: float, name: str) -> tuple[float, float, list]:
    """Hold still for `seconds`: ((server CPU %, RSS MB), others' CPU % of the machine, chat samples, start, end)."""
    from tests.bench.run import _cpu, _foreign_cpu

    u0, c0 = common.usage(app), _cpu(bench)
    with common.Profile(app, name):
        await asyncio.sleep(seconds)
    u1, c1 = common.usage(app), _cpu(bench)
    parent.send("report")
    got = parent.recv() if await asyncio.to_thread(parent.poll, 30) else []
    if isinstance(got, tuple):
        raise RuntimeError(f"chat pair: {got[1]}")
    return (common.cpu_percent_between(u0, u1), u1.rss_mb), _foreign_cpu(c0, c1, u1.t - u0.t), got, u0.t, u1.t


async def run(bench: common.Bench, res: common.Result, steps: list[int] | None = None, window: float = WINDOW,
              budget: float = BUDGET) -> None:
    from corpchat.services import rooms
    from tests.bench.client import new_http
    from tests.bench.run import _cpu, _foreign_cpu

    steps = steps or STEPS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 4 sockets a call
    app = bench.main_app()
    users = common.create_users(bench.prefix("sig"), 2 * max(steps) + 2)
    pairs = [users[i:i + 2] for i in range(2, len(users), 2)]
    res.note(f"no signalling or call limit lifted: every call is a distinct pair of users, set up at "
             f"{SETUP_RATE:g}/s (the per-address signalling bucket, {160 * 50 // 10}/s from 127.0.0.1 at the "
             "default 50 msg/s, stays above the peak); lifted as in every bench (tests/support.py "
             "test_environment): NEW_TABS_BURST (2 tabs a call from one address) and SEND_BURST (the chat pair)")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    chat = ctx.Process(target=_chat_main, args=(child, app.url, users[:2]), daemon=True)
    chat.start()
    load, live, samples, out = Load(app.url), [], [], []
    stop_reason = "all steps run"
    try:
        ready = parent.recv() if await asyncio.to_thread(parent.poll, 120) else "no answer in 120 s"
        if ready != "ready":
            raise RuntimeError(f"chat pair did not start: {ready}")
        t_begin = time.monotonic()  # the load starts here (the budget is of load, not of set-up)
        async with new_http() as http:
            try:
                for i, n in enumerate(steps):
                    new = pairs[len(live):n]
                    per_call = max(1 / SETUP_RATE, max((s["setup_phase_s"] / s["new_calls"] for s in out
                                                        if s["new_calls"]), default=0.0))
                    estimate = len(new) * per_call * 1.2 + 2 * window + 15  # + the baseline after
                    rest = sum((b - a) * per_call * 1.2 + window for a, b in zip(steps[i:], steps[i + 1:]))
                    if out and time.monotonic() - t_begin + estimate > budget:
                        stop_reason = f"time budget ({budget:g} s) would be exceeded by the {n}-call step"
                        break
                    calls = await asyncio.to_thread(
                        lambda new=new: [Call(list(p), rooms.open_private(p[0][0], p[1][0])) for p in new])
                    failed: list[str] = []
                    load.phase = f"setup{n}"
                    t_s, c_s = time.monotonic(), _cpu(bench)
                    await _add_calls(load, http, calls, live, failed)
                    t_r, busy_setup = time.monotonic(), _foreign_cpu(c_s, _cpu(bench), time.monotonic() - t_s)
                    load.phase = f"run{n}"
                    # A window the neighbours took is taken again (the quietest one counts) with the
                    # time the remaining steps leave: reaching the top step comes first.
                    windows: list[tuple] = []
                    while not windows or (min(windows)[0] > BUSY_PCT and len(windows) < RETRIES
                                          and time.monotonic() - t_begin + 2 * window + 15 + rest < budget):
                        cpu, foreign, got, w0, w1 = await _window(bench, app, parent, window, f"signalling{n}")
                        samples += got
                        windows.append((foreign, cpu, w0, w1))
                    foreign, cpu, w0, w1 = min(windows)
                    step = _step(load, n, calls, failed, live, samples, (t_s, t_r, time.monotonic()), (w0, w1),
                                 cpu, foreign)
                    step["windows"] = len(windows)
                    step["foreign_cpu_pct_setup"] = busy_setup
                    out.append(step)
                    _rows(res, step)
                    # A chat miss does not end the ramp (the budget does): on a shared machine one
                    # window may be a neighbour's, and the steps above it still tell.
                    if step["calls_up"] < n or step["failed"] or step["lost"]:
                        stop_reason = f"{n} calls: {step['tripped']}"
                        break
            finally:
                await asyncio.gather(*(_end(c) for c in live), return_exceptions=True)
        # The same window with every call gone: what the machine gives the chat pair now, so a
        # miss above can be told from a neighbour's load that came meanwhile. It waits out the
        # server's clean-up of closed peers (RECONNECT_SECONDS) and tabs (the grace period).
        from corpchat.api.signalling import RECONNECT_SECONDS

        await asyncio.sleep(RECONNECT_SECONDS + 2)
        load.phase, t_r = "after", time.monotonic()
        cpu, foreign, got, w0, w1 = await _window(bench, app, parent, window, "signalling-after")
        samples += got
        after = _step(load, 0, [], [], [], samples, (t_r, t_r, w1), (w0, w1), cpu, foreign)
        after["after"] = True
        out.append(after)
        _rows(res, after)
    finally:
        with contextlib.suppress(Exception):
            parent.send("stop")
            parent.poll(15) and parent.recv()
        chat.join(10)
        if chat.is_alive():
            chat.kill()
        _report(res, out, stop_reason, window)


def _step(load: Load, n: int, calls: list[Call], failed: list[str], live: list[Call], samples: list,
          phases: tuple, judged_window: tuple, cpu: tuple, foreign: float) -> dict:
    """One step's figures: set-up from t_s to t_r, running to t_e, the chat judged in judged_window."""
    (t_s, t_r, t_e), (w0, w1) = phases, judged_window
    c = load.counts
    setup, running = f"setup{n}", f"run{n}"
    relay = common.summary_ms(load.relay.get(setup, []) + load.relay.get(running, []))
    chat_setup, chat_run = (common.summary_ms([lat for t, lat in samples if a <= t < b]) for a, b in
                            ((t_s, t_r), (w0, w1)))
    up = sum(1 for x in live if x.done.is_set())
    lost = sum(c.get((p, w), 0) for p in (setup, running) for w in ("expired", "sockets lost"))
    # a pass on a busy machine is a pass; only a miss there may be the neighbours'
    tripped, judged = [], foreign <= BUSY_PCT or chat_run["p99_ms"] <= TARGET_P99_MS
    if chat_run["p99_ms"] > TARGET_P99_MS:
        tripped.append(f"chat p99 {chat_run['p99_ms']} ms > {TARGET_P99_MS:g} ms"
                       + ("" if judged else f" (not judged: others used {foreign:g} % of the machine)"))
    if up < n or failed or lost:
        tripped.append(f"{up} of {n} calls up, {len(failed)} failed set-ups, {lost} expired/lost")
    setup_s = max(1e-9, t_r - t_s)
    return {
        "calls": n, "calls_up": up, "new_calls": len(calls), "failed": failed[:5],
        "setup_phase_s": round(t_r - t_s, 1) if calls else 0.0,
        "call_setup": common.summary_ms([x.setup_s for x in calls if x.done.is_set()]),
        "relayed_per_s_setup": round(c.get((setup, "relayed"), 0) / setup_s, 1) if calls else 0.0,
        "relayed_per_s_running": round(c.get((running, "relayed"), 0) / (t_e - t_r), 1),
        "heartbeats_per_s_running": round(c.get((running, "heartbeats"), 0) / (t_e - t_r), 1),
        "relay": relay, "chat_setup": chat_setup, "chat_running": chat_run, "lost": lost,
        # when in the window the slow ones came (periodic or not tells a timer from a neighbour)
        "chat_slow_running": [(round(t - w0, 2), round(lat * 1000, 1)) for t, lat in samples
                              if w0 <= t < w1 and lat * 1000 > TARGET_P99_MS][:40],
        "server_cpu_pct_running": round(cpu[0], 1), "server_rss_mb": round(cpu[1]), "foreign_cpu_pct_running": foreign,
        "judged": judged,
        "tripped": "; ".join(tripped),
    }


def _label(s: dict) -> str:
    return "0 calls (after the ramp)" if s.get("after") else f"{s['calls']} calls"


def _rows(res: common.Result, s: dict) -> None:
    """The step's lines of the table, printed as the step ends."""
    ok = (s["chat_running"]["p99_ms"] <= TARGET_P99_MS and not s["tripped"]) if s["judged"] else None
    quietest = f", quietest of {s['windows']} windows" if s.get("windows", 1) > 1 else ""
    res.add(f"{_label(s)} running: chat p50/p99 (server CPU {s['server_cpu_pct_running']:g} %, "
            f"RSS {s['server_rss_mb']} MB, others "
            f"{s['foreign_cpu_pct_running']:g} % of the machine{quietest}; "
            f"{s['heartbeats_per_s_running']:g} heartbeats/s)",
            f"{s['chat_running']['p50_ms']}/{s['chat_running']['p99_ms']}", "ms",
            f"p99 <= {TARGET_P99_MS:g}" if s["judged"] else "busy: not judged", ok)
    if s["new_calls"]:
        res.add(f"{_label(s)}: {s['calls_up']} up ({s['new_calls']} new at {SETUP_RATE:g}/s, others "
                f"{s['foreign_cpu_pct_setup']:g} %): chat p50/p99 | relay p50/p99 | relayed/s",
                f"{s['chat_setup']['p50_ms']}/{s['chat_setup']['p99_ms']} | {s['relay']['p50_ms']}/"
                f"{s['relay']['p99_ms']} | {s['relayed_per_s_setup']:g}", "ms | ms | msg/s")
    if s["tripped"] and (s["judged"] or s["lost"] or s["failed"] or s["calls_up"] < s["calls"]):
        res.note(f"{_label(s)}: {s['tripped']}")


def _report(res: common.Result, out: list[dict], stop_reason: str, window: float) -> None:
    res.details.update(steps=out, stop_reason=stop_reason, window_s=window, setup_rate_per_s=SETUP_RATE,
                       sdp_bytes=SDP_BYTES, candidates_per_side=len(CANDIDATE_AT), heartbeat_s=HEARTBEAT_S)
    ramp = [s for s in out if not s.get("after")]
    best = max((s["calls"] for s in ramp if s["judged"] and not s["tripped"]), default=None)
    judged = any(s["judged"] for s in ramp)
    shown = best if best is not None else "none" if judged else "not judged (machine busy)"
    if best is not None and best == ramp[-1]["calls"]:
        shown = f">= {best} (the top step run: the chat did not end the ramp)"
    res.add("max concurrent calls with chat p99 <= 25 ms (running)", shown, "calls")
    if not_judged := [s["calls"] for s in ramp if not s["judged"]]:
        res.note(f"not judged (others used > {BUSY_PCT:g} % of the machine in their window): {not_judged} calls")
    if best is not None and (below := [s["calls"] for s in ramp if s["judged"] and s["tripped"]
                                       and s["calls"] < best]):
        res.note(f"steps below {best} calls missed ({below}): a noisy window, or a real limit; see details")
    during = [s["calls"] for s in ramp if s["new_calls"] and s["chat_setup"]["p99_ms"] <= TARGET_P99_MS
              and s["calls_up"] == s["calls"]]
    quiet = any(s.get("foreign_cpu_pct_setup", 100) <= BUSY_PCT for s in ramp)
    res.add(f"max calls with chat p99 <= 25 ms while calls set up at {SETUP_RATE:g}/s",
            max(during, default="none" if quiet else "not judged (machine busy)"), "calls")
    res.note(f"stopped: {stop_reason}; each step ran {window:g} s with its calls up; a running call sends only "
             f"HEARTBEAT (every {HEARTBEAT_S:g} s a socket, not relayed), so relays come from set-ups "
             f"(OFFER/ANSWER of ~{SDP_BYTES // 1000} KB SDP, {len(CANDIDATE_AT)} CANDIDATEs a side)")
