"""Section: latency from 202 to visible, per request size, on the local stack.

``tollgate local`` in a subprocess (gateway emulation, the ingest function, the pack and
usage queues with the template's event-source batching, the repack function, the consumer,
moto server). For each request size (1, 100 and 1,000 events) a fresh tenant sends requests
at a steady pace while a poller reads ``GET /v1/usage`` every 50 ms. A request is visible at
the first poll whose total includes it and every request sent before it (an upper bound when
requests are counted out of order). Latency = visible - the 202's arrival.

Requests of fewer than ``DIRECT_EVENTS`` events travel ingest -> pack queue -> repack ->
usage queue -> consumer (two batching windows of at most 1 s); larger ones skip the repack.
The figures are the local stack's (moto in one Python process, on this machine's 2 cores),
not AWS's: Lambda's SQS pollers add their own delay, typically well under a second.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .local_stack import bench_tenant, running

NAME = "latency"
TARGET_P99_S = 5.0
# (events per request, requests, requests per second): paces the local stack (moto in one
# process) can count as they come, so the figure is the pipeline's delay, not a backlog's.
CASES = ((1, 100, 10), (100, 20, 0.5), (1000, 6, 0.1))
POLL_S = 0.05
SETTLE_TIMEOUT_S = 90


def _requests(size: int, n: int) -> list[list[dict[str, Any]]]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    run = uuid.uuid4().hex[:8]
    return [[{"id": f"{run}-{r}-{i}", "time": now, "data": {}} for i in range(size)] for r in range(n)]


def _case(session: Any, base: str, admin_key: str, size: int, n: int, rate: float) -> dict[str, Any]:
    tenant, meter, headers = bench_tenant(session, base, admin_key)
    polls: list[tuple[float, float]] = []  # (when, total)
    stop = threading.Event()

    def poll() -> None:
        import requests

        s = requests.Session()
        while not stop.is_set():
            r = s.get(f"{base}/v1/usage", headers=headers, params={"meter": meter, "window": "month"}, timeout=10)
            if r.status_code == 200:
                polls.append((time.perf_counter(), float(r.json()["total"] or 0)))
            time.sleep(POLL_S)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    accepted: list[float] = []
    started = time.perf_counter()
    for i, events in enumerate(_requests(size, n)):
        for e in events:
            e.update(type=meter, subject=tenant)
        time.sleep(max(0.0, started + i / rate - time.perf_counter()))
        r = session.post(f"{base}/v1/events", headers=headers, json=events, timeout=30)
        if r.status_code != 202 or r.json()["accepted"] != size:
            raise RuntimeError(f"ingest answered {r.status_code}: {r.text[:200]}")
        accepted.append(time.perf_counter())
    deadline = time.perf_counter() + SETTLE_TIMEOUT_S
    while (not polls or polls[-1][1] < size * n) and time.perf_counter() < deadline:
        time.sleep(0.1)
    stop.set()
    poller.join(timeout=15)
    latencies = []
    for i, at in enumerate(accepted):
        need = size * (i + 1)
        seen = next((when for when, total in polls if total >= need and when >= at), None)
        if seen is None:
            last = polls[-1][1] if polls else None
            raise RuntimeError(f"request {i} of {size} events not visible within {SETTLE_TIMEOUT_S} s (total {last})")
        latencies.append(seen - at)
    latencies.sort()
    return {
        "requests": n,
        "requests_per_second": rate,
        "p50_s": round(latencies[len(latencies) // 2], 2),
        "p99_s": round(latencies[max(0, int(0.99 * len(latencies)) - 1)], 2),
        "max_s": round(latencies[-1], 2),
    }


def run() -> dict[str, Any]:
    import requests

    out: dict[str, Any] = {}
    with running() as (base, admin_key):
        session = requests.Session()
        for size, n, rate in CASES:
            out[f"events_{size}"] = _case(session, base, admin_key, size, n, rate)
    return out


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for size, _, _ in CASES:
        c = result.get(f"events_{size}")
        if not c:
            continue
        out.append(
            (
                f"202 to visible, {size}-event requests at {c['requests_per_second']}/s (local stack)",
                f"p50 {c['p50_s']} s, p99 {c['p99_s']} s",
                f"p99 <= {TARGET_P99_S:g} s",
                "yes" if c["p99_s"] <= TARGET_P99_S else "NO",
            )
        )
    return out
