"""capacity: ramp simulated users in steps until a threshold trips.

Every simulated user logs in (POST /api/login), opens the app (a socket with
the hydrate event), opens one of its chats, then performs one action every
~THINK seconds (uniformly 0.5x..1.5x, first one at a random point of the
first interval), the mix of Mattermost's load test:

    switch chat 40 %  (open_room on another of its chats)
    scroll      33 %  (load_older)
    react       20 %  (react on a message of the open chat)
    post         7 %  (send_message)

Response time = from the action's event to the reply of a barrier event sent
right behind it (events of a tab run one at a time, so the barrier's reply
means the handler finished and its delta was sent). Errors = error toasts,
actions without reply within ACTION_TIMEOUT, dropped sockets, failed logins or
connects.

Users are organised in teams of TEAM members; each team has GROUPS group chats
with every member (200 messages each), so a post or a reaction is pushed to 50
tabs.

After each step has connected, a MEASURE-second window is evaluated; the ramp
stops when mean response > 100 ms, p99 > 2 s or errors > 0.025 %, or when the
time budget would be exceeded. Server CPU and RSS are read from the app's
process group (psutil); RSS per user = (RSS - RSS before the first user) /
connected users.

Presence: each connect is a first tab (PresenceChanged to the user's team); with
BENCH_CAPACITY_CHURN=<p> (e.g. 0.05) a user also leaves after an action with probability p
and comes back AWAY seconds later (past the app's 5 s grace: "gone", then "online" again);
away users count as connected for the thresholds. Default 0: users connect once and stay.

The load generator runs in WORKERS processes (multiprocessing, spawn), each an
asyncio loop holding its share of the sockets.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import random
import time
import uuid
from collections import Counter

import psutil

from tests.bench import common

STEPS = [250, 1000, 2000, 3000, 4000, 5000, 6000]
THINK = 108.0
MEASURE = 30.0
SETTLE = 5.0
BUDGET = 480.0  # seconds for the whole scenario (ramp + windows)
# BENCH_CAPACITY_ALL_UNREAD=1: every seeded message unread for every member (the pre-issue-11 seed).
ALL_UNREAD = os.environ.get("BENCH_CAPACITY_ALL_UNREAD", "") == "1"
TEAM = 50
GROUPS = 4
GROUP_HISTORY = 200
WORKERS = 3
CONNECT_CONCURRENCY = 8  # per worker process
ACTION_TIMEOUT = 15.0
AWAY = 8.0  # seconds a churning user stays away (the app's TAB_GRACE_SECONDS is 5)
MIX = [("switch", 40), ("scroll", 33), ("react", 20), ("post", 7)]
EMOJI = ["👍", "🎉", "❤️", "😂", "🙏"]
MEAN_LIMIT_MS, P99_LIMIT_MS, ERROR_LIMIT = 100.0, 2000.0, 0.00025
TARGET_USERS, TARGET_MB_PER_USER = 3000, 0.3
QUICK = {"steps": [100, 200], "measure": 10.0, "think": 20.0}


# --------------------------------------------------------------------------
# Load-generator worker process
# --------------------------------------------------------------------------
class _Worker:
    def __init__(self, conn, url: str, names: dict, think: float, churn: float = 0.0):
        self.conn, self.url, self.names, self.think, self.churn = conn, url, names, think, churn
        self.away = self.rejoins = 0
        self.tabs = []
        self.tasks: set[asyncio.Task] = set()
        self.times: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.kinds: Counter = Counter()
        self.errors: Counter = Counter()
        self.actions = 0
        self.http = None

    async def main(self) -> None:
        from tests.bench.client import new_http

        self.http = new_http()
        loop = asyncio.get_running_loop()
        try:
            while True:
                cmd, arg = await loop.run_in_executor(None, self.conn.recv)
                if cmd == "add":  # in the background, so that "stop" can interrupt a slow ramp
                    adding = loop.create_task(self.add_and_reply(arg))
                    self.tasks.add(adding)
                    adding.add_done_callback(self.tasks.discard)
                elif cmd == "window":
                    self.times, self.kinds, self.errors, self.actions = [], Counter(), Counter(), 0
                    self.by_kind = {}
                    self.conn.send("ok")
                elif cmd == "report":
                    self.conn.send(self.report())
                elif cmd == "stop":
                    for t in list(self.tasks):
                        t.cancel()
                    await asyncio.gather(*(t.close() for t in self.tabs), return_exceptions=True)
                    self.conn.send("stopped")
                    return
        finally:
            await self.http.close()

    def report(self) -> dict:
        return {"times": self.times, "by_kind": self.by_kind, "kinds": dict(self.kinds), "errors": dict(self.errors),
                "actions": self.actions, "connected": sum(1 for t in self.tabs if t.connected),
                "tabs": len(self.tabs), "away": self.away, "rejoins": self.rejoins}

    async def add_and_reply(self, users: list[tuple[str, list[int]]]) -> None:
        self.conn.send(("added", await self.add(users)))

    async def add(self, users: list[tuple[str, list[int]]]) -> dict:
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failed = Counter()

        async def one(login_name: str, rooms: list[int]):
            async with sem:
                tab = await self.connect(login_name, rooms, failed)
            if tab is not None:
                task = asyncio.get_running_loop().create_task(self.live(tab, rooms))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

        t = time.perf_counter()
        await asyncio.gather(*(one(n, r) for n, r in users))
        for k, v in failed.items():
            self.errors[k] += v
        return {"added": len(users) - sum(failed.values()), "failed": dict(failed),
                "seconds": time.perf_counter() - t}

    async def connect(self, login_name: str, rooms: list[int], failed: Counter):
        from tests.bench.client import Tab, login

        try:
            cookie = await login(self.http, self.url, login_name, common.PASSWORD)
        except Exception as exc:
            failed[f"login: {type(exc).__name__}"] += 1
            return None
        tab = Tab(self.http, self.url, cookie, parse=True)
        try:
            await tab.connect("/", timeout=60)
            await tab.call(self.names["open_room"], {"room_id": rooms[0]}, timeout=60)
        except Exception as exc:
            failed[f"connect: {type(exc).__name__}"] += 1
            await tab.close()
            return None
        tab.room = rooms[0]
        self.tabs.append(tab)
        return tab

    async def live(self, tab, rooms: list[int]) -> None:
        rnd = random.Random()
        await asyncio.sleep(rnd.uniform(0, self.think))
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        while tab.connected:
            kind = rnd.choices(kinds, weights)[0]
            await self.act(tab, kind, rooms, rnd)
            if self.churn and rnd.random() < self.churn and (tab := await self.rejoin(tab, rooms)) is None:
                return
            await asyncio.sleep(self.think * rnd.uniform(0.5, 1.5))
        self.errors["socket dropped"] += 1

    async def rejoin(self, tab, rooms: list[int]):
        """Close the tab, stay away AWAY seconds, open a new one with the same login."""
        from tests.bench.client import Tab

        self.tabs.remove(tab)
        self.away += 1
        await tab.close()
        await asyncio.sleep(AWAY)
        new = Tab(self.http, self.url, tab.cookie, parse=True)
        try:
            await new.connect("/", timeout=60)
            await new.call(self.names["open_room"], {"room_id": rooms[0]}, timeout=60)
        except Exception as exc:
            self.errors[f"rejoin: {type(exc).__name__}"] += 1
            await new.close()
            return None
        finally:
            self.away -= 1
        new.room, self.rejoins = rooms[0], self.rejoins + 1
        self.tabs.append(new)
        return new

    async def act(self, tab, kind: str, rooms: list[int], rnd: random.Random) -> None:
        path = self.names["path"]
        if kind == "switch":
            room = rnd.choice([r for r in rooms if r != tab.room] or rooms)
            name, payload = self.names["open_room"], {"room_id": room}
        elif kind == "scroll":
            name, payload = self.names["load_older"], {}
        elif kind == "react":
            ids = [m.get("id") for m in common.settled(tab.state.get(path, {})) if m.get("id")]
            if not ids:
                kind, name, payload = "scroll", self.names["load_older"], {}
            else:
                name, payload = self.names["react"], {"message_id": rnd.choice(ids[-20:]),
                                                      "emoji": rnd.choice(EMOJI)}
        else:
            name, payload = self.names["send_message"], {"form_data": {
                "text": f"capacity post {uuid.uuid4().hex[:8]}", "client_id": uuid.uuid4().hex}}
        errors_before = len(tab.errors)
        try:
            dt = await tab.call(name, payload, timeout=ACTION_TIMEOUT)
        except TimeoutError:
            self.actions += 1
            self.errors[f"{kind}: no reply in {ACTION_TIMEOUT:g} s"] += 1
            return
        except Exception as exc:
            self.actions += 1
            self.errors[f"{kind}: {type(exc).__name__}"] += 1
            return
        self.actions += 1
        self.times.append(dt)
        self.kinds[kind] += 1
        self.by_kind.setdefault(kind, []).append(dt)
        if len(tab.errors) > errors_before:
            self.errors[f"{kind}: error toast"] += 1
        if kind == "switch":
            tab.room = payload["room_id"]
        if len(tab.errors) > 20:
            del tab.errors[:-20]


def worker_main(conn, url: str, names: dict, think: float, churn: float = 0.0) -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except Exception:
        pass
    asyncio.run(_Worker(conn, url, names, think, churn).main())


# --------------------------------------------------------------------------
# The ramp (parent process)
# --------------------------------------------------------------------------
def _seed(bench: common.Bench, max_users: int) -> list[tuple[str, list[int]]]:
    users = common.create_users(bench.prefix("cap"), max_users)
    out = []
    for start in range(0, max_users, TEAM):
        team = users[start:start + TEAM]
        ids = [u for u, _ in team]
        rooms = []
        for g in range(GROUPS):
            room = common.create_group(f"team {start // TEAM} #{g}", ids)
            common.fill_room(room, ids[:10], GROUP_HISTORY, f"t{start // TEAM}g{g}")
            # The team has read its history, as in a real workplace (with all 200 unread, every
            # first open loads up to 110 messages to show the first unread one: issue 11).
            if not ALL_UNREAD:
                common.sql("UPDATE participants SET last_read_seq = :n WHERE room_id = :r",
                           {"n": GROUP_HISTORY, "r": room})
            rooms.append(room)
        for i, (_, name) in enumerate(team):
            out.append((name, rooms[i % GROUPS:] + rooms[:i % GROUPS]))  # different first chats
    common.sql("ANALYZE messages")
    return out


def _ask(pipes, cmd, arg=None, timeout: float = 600) -> list:
    for p in pipes:
        p.send((cmd, arg))
    return _replies(pipes, timeout, cmd)


def _replies(pipes, timeout: float, what: str, skip_added: bool = True) -> list:
    """One reply per worker; late "added" replies of an interrupted ramp are skipped."""
    out = []
    deadline = time.monotonic() + timeout
    for p in pipes:
        while True:
            if not p.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"load generator did not answer {what!r} in {timeout:g} s")
            reply = p.recv()
            if skip_added and isinstance(reply, tuple) and reply and reply[0] == "added":
                continue
            out.append(reply)
            break
    return out


async def run(bench: common.Bench, res: common.Result, steps: list[int] | None = None, think: float = THINK,
              measure: float = MEASURE, budget: float = BUDGET, workers: int = WORKERS) -> None:
    steps = steps or STEPS
    churn = float(os.environ.get("BENCH_CAPACITY_CHURN") or 0)
    t_begin = time.monotonic()
    users = _seed(bench, steps[-1])
    app = bench.restart_main_app()  # a fresh process: memory per user is measured from an empty state manager
    await asyncio.sleep(2)
    base = common.usage(app)
    names = {"path": common.chat_state_path(), **{h: common.handler(h) for h in
                                                  ("open_room", "load_older", "react", "send_message")}}
    if think < THINK:
        res.note(f"think time COMPRESSED to {think:g} s (real users: {THINK:g} s): "
                 f"load per user is {THINK / think:.1f}x a real user's")
    else:
        res.note(f"think time {think:g} s per action, not compressed; each step measured for {measure:g} s")
    if churn:
        res.note(f"churn on: after {100 * churn:g} % of actions the user leaves for {AWAY:g} s and comes back")
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(workers):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(child, app.url, names, think, churn), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    gen = [psutil.Process(p.pid) for p in procs]
    steps_out, reached, stop_reason = [], 0, "all steps passed"
    connected = 0
    try:
        for target in steps:
            if steps_out and time.monotonic() - t_begin + _step_estimate(steps_out, target) > budget:
                stop_reason = f"time budget ({budget:g} s) would be exceeded by the {target}-user step"
                break
            t_ramp = time.monotonic()
            batch = users[connected:target]
            new_users = len(batch)
            shares = [batch[i::workers] for i in range(workers)]
            # The ramp must leave room for the window within the budget; a server that cannot
            # take the new users in that time is saturated.
            ramp_limit = max(60.0, budget - (time.monotonic() - t_begin) - SETTLE - measure - 10)
            for p, share in zip(pipes, shares):
                p.send(("add", share))
            try:
                added = [r[1] for r in _replies(pipes, ramp_limit, "add", skip_added=False)]
            except TimeoutError:
                stop_reason = (f"{target} users: connecting the {new_users} new users took more than "
                               f"{ramp_limit:.0f} s (server saturated)")
                steps_out.append({"users": target, "new_users": new_users, "tripped": stop_reason,
                                  "ramp_s": round(time.monotonic() - t_ramp, 1), "connected": None})
                print(f"  [capacity] {stop_reason}", flush=True)
                break
            connected = target
            ramp_s = time.monotonic() - t_ramp
            connect_failures = sum(sum(a["failed"].values()) for a in added)
            await asyncio.sleep(SETTLE)
            _ask(pipes, "window")
            u0 = common.usage(app)
            g0 = sum(p.cpu_times().user + p.cpu_times().system for p in gen)
            with common.Profile(app, f"capacity{target}"):
                await asyncio.sleep(measure)
                reports = _ask(pipes, "report")
            u1 = common.usage(app)
            g1 = sum(p.cpu_times().user + p.cpu_times().system for p in gen)
            step = _evaluate(target, new_users, reports, u0, u1, base, ramp_s, connect_failures,
                             (g1 - g0) / measure * 100)
            steps_out.append(step)
            kinds = ", ".join(f"{k} {v['mean_ms']}/{v['p99_ms']} ms" for k, v in step["by_kind"].items())
            print(f"  [capacity] {target:>5} users: {step['connected']} connected, {step['actions']} actions, "
                  f"mean {step['mean_ms']} ms, p99 {step['p99_ms']} ms, errors {step['errors']} "
                  f"({step['error_pct']} %), server CPU {step['server_cpu_pct']} %, RSS {step['rss_mb']} MB "
                  f"({step['mb_per_user']} MB/user), ramp {step['ramp_s']} s, load generator CPU "
                  f"{step['loadgen_cpu_pct']} %; {step['rejoins']} rejoins; mean/p99 per action: {kinds}"
                  f"{'  <- ' + step['tripped'] if step['tripped'] else ''}", flush=True)
            if step["tripped"]:
                stop_reason = f"{target} users: {step['tripped']}"
                break
            reached = target
    finally:
        try:
            _ask(pipes, "stop", timeout=120)
        except Exception:
            pass
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    last_ok = next((s for s in reversed(steps_out) if not s["tripped"]), None)
    measured = [s for s in steps_out if s.get("connected")]
    res.details.update(steps=steps_out, stop_reason=stop_reason, think_s=think, measure_s=measure, churn=churn,
                       team=TEAM, groups_per_team=GROUPS, mix=dict(MIX), baseline_rss_mb=round(base.rss_mb, 1))
    res.add("users reached", reached, "users", f">= {TARGET_USERS:,}", reached >= TARGET_USERS)
    res.note(f"stopped: {stop_reason}")
    if last_ok:
        res.add(f"mean / p99 response at {last_ok['users']}", f"{last_ok['mean_ms']} / {last_ok['p99_ms']}", "ms",
                "mean <= 100, p99 <= 2000")
        res.add(f"server CPU at {last_ok['users']} users", last_ok["server_cpu_pct"], "% of a core")
        res.add("server CPU per connected user", last_ok["cpu_ms_per_user_s"], "ms CPU/s")
    top = max(measured, key=lambda s: s["connected"], default=None)
    if top:
        res.add(f"server RSS per connected user (at {top['connected']})", top["mb_per_user"], "MB",
                f"<= {TARGET_MB_PER_USER:g} MB", top["mb_per_user"] <= TARGET_MB_PER_USER)


def _step_estimate(steps_out: list[dict], target: int) -> float:
    """Seconds the next step will take, from the ramp rate so far."""
    prev = steps_out[-1]
    per_user = prev["ramp_s"] / max(1, prev["new_users"])
    return (target - prev["users"]) * per_user * 1.5 + SETTLE + prev["window_s"] + 5


def _evaluate(target: int, new_users: int, reports: list[dict], u0, u1, base, ramp_s: float, connect_failures: int,
              gen_cpu: float) -> dict:
    times = [t for r in reports for t in r["times"]]
    errors: Counter = Counter()
    for r in reports:
        errors.update(r["errors"])
    actions = sum(r["actions"] for r in reports) + connect_failures
    n_err = sum(errors.values()) + connect_failures
    connected = sum(r["connected"] for r in reports)
    away = sum(r.get("away", 0) for r in reports)
    mean = sum(times) / len(times) if times else math.nan
    p99 = common.pct(times, 99)
    err_rate = n_err / max(1, actions)
    tripped = []
    if mean * 1000 > MEAN_LIMIT_MS:
        tripped.append(f"mean {mean * 1000:.0f} ms > {MEAN_LIMIT_MS:g} ms")
    if p99 * 1000 > P99_LIMIT_MS:
        tripped.append(f"p99 {p99 * 1000:.0f} ms > {P99_LIMIT_MS:g} ms")
    if err_rate > ERROR_LIMIT:
        tripped.append(f"errors {100 * err_rate:.3f} % > {100 * ERROR_LIMIT:.3f} %")
    if connected + away < target:
        tripped.append(f"only {connected} of {target} connected ({away} away)")
    kinds: Counter = Counter()
    by_kind: dict[str, list[float]] = {}
    for r in reports:
        kinds.update(r["kinds"])
        for k, v in r["by_kind"].items():
            by_kind.setdefault(k, []).extend(v)
    window = u1.t - u0.t
    cpu_pct = common.cpu_percent_between(u0, u1)
    return {
        "users": target, "new_users": new_users,
        "connected": connected, "away": away, "rejoins": sum(r.get("rejoins", 0) for r in reports),
        "actions": actions, "kinds": dict(kinds),
        "by_kind": {k: {"mean_ms": common.ms(sum(v) / len(v)), "p99_ms": common.ms(common.pct(v, 99)), "n": len(v)}
                    for k, v in sorted(by_kind.items())},
        "mean_ms": common.ms(mean), "p50_ms": common.ms(common.pct(times, 50)), "p99_ms": common.ms(p99),
        "errors": n_err, "error_kinds": dict(errors), "error_pct": round(100 * err_rate, 3),
        "server_cpu_pct": round(cpu_pct, 1), "cpu_ms_per_user_s": round(cpu_pct * 10 / max(1, connected), 3),
        "rss_mb": round(u1.rss_mb, 1), "mb_per_user": round((u1.rss_mb - base.rss_mb) / max(1, connected), 3),
        "ramp_s": round(ramp_s, 1), "window_s": round(window, 1), "loadgen_cpu_pct": round(gen_cpu, 1),
        "tripped": "; ".join(tripped),
    }
