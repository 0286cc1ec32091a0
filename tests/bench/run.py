"""`make bench`: CorpChat's load and latency benchmarks (issue 4).

    python -m tests.bench.run                      # every scenario
    python -m tests.bench.run --only latency,fanout
    python -m tests.bench.run --skip capacity,workers

A fresh database (`corpchat_bench_<hex>`, dropped at the end) and a freshly
started production-mode app (`reflex run --env prod` via `corpchat.cli serve`,
web dir `.web-bench`) on a free loopback port. Simulated users are real
clients: they log in through POST /api/login and talk to the real event
handlers over Reflex's Socket.IO WebSocket (tests/bench/client.py). Only the
seeding (users, groups, history rows) uses SQL directly.

Prints a table and writes it, with every scenario's details, to
bench-results/results.json.

Knobs (environment): BENCH_PROFILE=1 records py-spy stacks of the app's workers
during each measurement into bench-results/profile-*.txt (needs py-spy in the
venv); BENCH_APP_ENV="KEY=VALUE,..." adds settings to the app's environment
(e.g. REFLEX_STATE_MANAGER_MODE=memory) to measure a configuration change;
BENCH_REDIS_URL overrides redis://127.0.0.1:6379/0 for the workers scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime

from tests.bench import common

SCENARIOS = [
    "latency", "fanout", "removal", "biggroup", "throughput", "history", "chatlist", "capacity", "workers",
    "presence", "files", "calls", "signalling"]
RESULTS_DIR = common.ROOT / "bench-results"
FOREIGN_CPU_WARN = 15.0  # % of the machine used by processes that are not this bench's (flagged above)


def _cpu(bench: common.Bench) -> tuple[float, float]:
    """(CPU seconds the machine spent busy in processes, CPU seconds of this bench: its process
    tree, finished children included, the PostgreSQL backends serving its database and Redis)."""
    import psutil

    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system
    me = psutil.Process()
    c = me.cpu_times()
    ours = c.user + c.system + c.children_user + c.children_system
    procs = me.children(recursive=True)
    db = bench.db_url.rsplit("/", 1)[-1]
    for p in psutil.process_iter(["name", "cmdline"]):
        name = p.info["name"] or ""
        if (name.startswith("postgres") and any(db in x for x in (p.info["cmdline"] or []))) or name == "redis-server":
            procs.append(p)
    for p in procs:
        try:
            pc = p.cpu_times()
            ours += pc.user + pc.system + pc.children_user + pc.children_system
        except psutil.Error:
            pass
    return busy, ours


def _foreign_cpu(before: tuple[float, float], after: tuple[float, float], seconds: float) -> float:
    busy = after[0] - before[0]
    ours = after[1] - before[1]
    return round(max(0.0, busy - ours) / max(1e-9, seconds * (os.cpu_count() or 1)) * 100, 1)


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="", help="comma-separated scenarios to run (default: all)")
    p.add_argument("--skip", default="", help="comma-separated scenarios to leave out")
    p.add_argument("--out", default=str(RESULTS_DIR / "results.json"), help="where to write the JSON")
    p.add_argument("--quick", action="store_true",
                   help="smaller counts and shorter windows (a smoke run of the bench itself)")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = [s for s in [*only, *skip] if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = [s for s in (only or SCENARIOS) if s not in skip]
    return args


def _fmt(v) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def table(results: list[common.Result]) -> str:
    rows = [("scenario", "metric", "value", "unit", "target", "")]
    for r in results:
        if r.error:
            rows.append((r.scenario, "ERROR", r.error[:90], "", "", "FAILED"))
        for row in r.rows:
            verdict = "" if row.ok is None else ("ok" if row.ok else "MISSED")
            rows.append((row.scenario, row.metric, _fmt(row.value), row.unit, row.target, verdict))
    widths = [max(len(str(row[i])) for row in rows) for i in range(6)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) if j != 2 else str(c).rjust(w)
                               for j, (c, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _json_safe(obj):
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def _git() -> dict:
    """Which code was measured: the commit and the files changed on top of it."""
    import subprocess

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=common.ROOT, capture_output=True, text=True,
                                  timeout=10).stdout
        except Exception:
            return ""

    changed = git("status", "--porcelain", "--", "corpchat", "rxconfig.py").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "changed": [line[3:] for line in changed]}


def write_json(path: str, results: list[common.Result], started: datetime, args) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "code": _GIT,
        "args": {"scenarios": args.scenarios, "quick": args.quick,
                 "BENCH_APP_ENV": os.environ.get("BENCH_APP_ENV", "")},
        "scenarios": {
            r.scenario: {
                "seconds": round(r.seconds, 1), "error": r.error, "notes": r.notes, "details": r.details,
                "rows": [{"metric": x.metric, "value": x.value, "unit": x.unit, "target": x.target, "ok": x.ok}
                         for x in r.rows],
            } for r in results
        },
    }
    with open(path, "w") as f:
        json.dump(_json_safe(data), f, indent=2, ensure_ascii=False, default=str)


_GIT: dict = {}


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    _GIT.update(_git())
    started = datetime.now(UTC)
    t0 = time.monotonic()
    print(f"CorpChat bench: {', '.join(args.scenarios)}{' (quick)' if args.quick else ''} at {_GIT['commit']}"
          f"{' + changes in ' + ', '.join(_GIT['changed']) if _GIT['changed'] else ''}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    bench = common.Bench()
    results: list[common.Result] = []
    try:
        for name in args.scenarios:
            module = importlib.import_module(f"tests.bench.{name}")
            res = common.Result(name)
            results.append(res)
            print(f"\n== {name} ==", flush=True)
            t = time.monotonic()
            load_before = os.getloadavg()[0]
            cpu_before = _cpu(bench)
            try:
                asyncio.run(module.run(bench, res, **(module.QUICK if args.quick else {})))
            except Exception as exc:
                print(traceback.format_exc(), flush=True)
                res.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
            res.seconds = time.monotonic() - t
            load = (round(load_before, 1), round(os.getloadavg()[0], 1))
            foreign = _foreign_cpu(cpu_before, _cpu(bench), res.seconds)
            res.details.update(load_average_1min=load, foreign_cpu_percent=foreign)
            if foreign > FOREIGN_CPU_WARN:
                res.note(f"machine shared: other processes used {foreign:.0f} % of the {os.cpu_count()} cores "
                         f"during this scenario (1-min load {load[0]} -> {load[1]}); its figures are pessimistic")
            print(f"  ({name}: {res.seconds:.0f} s)", flush=True)
            write_json(args.out, results, started, args)  # partial results survive a crash
    finally:
        bench.close()
    print(f"\nResults ({time.monotonic() - t0:.0f} s in all; written to {os.path.relpath(args.out, common.ROOT)})")
    print(table(results))
    for r in results:
        for n in r.notes:
            print(f"  note [{r.scenario}]: {n}")
    write_json(args.out, results, started, args)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
