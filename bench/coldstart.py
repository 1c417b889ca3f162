"""Section (e): cold start - import time of each function's module (``functions/*/app.py``).

Each figure is the median of 5 fresh interpreters, after one untimed run that leaves the
bytecode caches warm (as a built layer has them). Timed inside the child: from before to
after executing the handler module (its imports and module-level setup such as building the
resolver), not interpreter start-up. Nothing reaches AWS at import. Wall time is the figure
(and the target); CPU time is shown beside it because on a shared machine other processes
inflate wall time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAME = "cold_start"
RUNS = 5
TARGETS_MS = {"ingest": 300}

_CHILD = r"""
import importlib.util, sys, time
path = sys.argv[1]
t0, c0 = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("bench_coldstart_app", path)
module = importlib.util.module_from_spec(spec)
sys.modules["bench_coldstart_app"] = module
spec.loader.exec_module(module)
t1, c1 = time.perf_counter(), time.process_time()
print((t1 - t0) * 1000, (c1 - c0) * 1000)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        POWERTOOLS_SERVICE_NAME="tollgate",
        POWERTOOLS_METRICS_NAMESPACE="Tollgate",
        USAGE_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/bench",
        USAGE_DLQ_URL="https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "shared"), env.get("PYTHONPATH", "")])),
    )
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def _once(app: Path, env: dict[str, str]) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(app)], env=env, cwd=app.parent, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{app}: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}")
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def run() -> dict[str, Any]:
    env = _env()
    out: dict[str, Any] = {"functions": {}, "runs": RUNS}
    for app in sorted(ROOT.glob("functions/*/app.py")):
        name = app.parent.name
        try:
            _once(app, env)  # warm the bytecode caches
            times = [_once(app, env) for _ in range(RUNS)]
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            out["functions"][name] = {"error": str(exc)}
            continue
        out["functions"][name] = {
            "median_ms": round(statistics.median(t for t, _ in times), 1),
            "median_cpu_ms": round(statistics.median(c for _, c in times), 1),
            "runs_ms": [round(t, 1) for t, _ in times],
        }
    return out


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for name, f in result["functions"].items():
        target = TARGETS_MS.get(name)
        if "error" in f:
            out.append((f"cold start: import functions/{name}/app.py", f"error: {f['error']}"[:60], "-", "NO"))
            continue
        met = "-" if target is None else ("yes" if f["median_ms"] <= target else "NO")
        out.append(
            (
                f"cold start: import functions/{name}/app.py",
                f"{f['median_ms']} ms wall, {f['median_cpu_ms']} ms CPU (median of {result['runs']})",
                f"<= {target} ms" if target else "-",
                met,
            )
        )
    return out
