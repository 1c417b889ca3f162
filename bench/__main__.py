"""``python -m bench [section ...]``: run the sections, print a table, merge bench/results.json.

The results file is shared: each run reads it, replaces the sections it ran and writes it
back, so sections owned by others survive.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"
ROOT = Path(__file__).resolve().parent.parent

# (key in results.json, module). Add your section here.
SECTIONS: list[tuple[str, str]] = [
    ("ingest_cpu", "bench.ingest"),
    ("cold_start", "bench.coldstart"),
    ("consumer", "bench.consumer"),
    ("cost_matrix", "bench.cost_matrix"),
    ("consume", "bench.consume"),
    ("ratelimit", "bench.ratelimit"),
    ("local_restart", "bench.local_restart"),
    ("hot_tenant", "bench.hot_tenant"),
    ("latency", "bench.latency"),
    ("alerts", "bench.alerts"),
    ("invoices", "bench.invoices"),
    ("analytics", "bench.analytics"),
    ("console", "bench.console"),
    ("demo", "bench.demo"),
    ("reports", "bench.reports"),
    ("client", "bench.client"),
]


def _load() -> dict:
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("what", "figure", "target", "met")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    line = lambda r: " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), "-+-".join("-" * w for w in widths), *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"default: all ({', '.join(k for k, _ in SECTIONS)})")
    args = parser.parse_args(argv)
    chosen = [(k, m) for k, m in SECTIONS if not args.sections or k in args.sections]
    unknown = set(args.sections) - {k for k, _ in SECTIONS}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "dev")]  # tollgate, and tollgate_dev (cost, local stack)

    results = _load()
    rows: list[tuple[str, str, str, str]] = []
    for key, module_name in chosen:
        module = importlib.import_module(module_name)
        started = time.perf_counter()
        result = module.run()
        result["_meta"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        results[key] = result
        rows.extend(module.rows(result))
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")  # after each section
    print(_table(rows))
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
