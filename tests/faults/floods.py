"""`make faults` scenario `floods`: the floods of tests/security/test_floods.py for ~10 s each
(FLOODS_SECONDS) instead of the few seconds make test affords. Each runs against its own
one-worker backend while an honest pair measures latency and the server RSS is sampled; the
figures are the test's printed lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests import support


def run(quick: bool) -> dict:
    seconds = "4" if quick else "10"
    print(f"faults: floods ({seconds} s each) ...", flush=True)
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/security/test_floods.py", "-q", "-s",
                           "-p", "no:randomly", "-o", "timeout=600"],
                          cwd=support.ROOT, env=dict(os.environ, FLOODS_SECONDS=seconds),
                          capture_output=True, text=True)
    figures = [line for line in proc.stdout.splitlines() if "honest p50" in line]
    for line in figures:
        print(f"  {line}", flush=True)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    print(f"  floods: {summary}  {'OK' if proc.returncode == 0 else 'FAILED'}", flush=True)
    return {"ok": proc.returncode == 0, "figures": figures, "summary": summary,
            "seconds": round(time.monotonic() - t, 1)}
