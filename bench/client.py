"""Section: the client SDK (tollgate.client) - CPU per ``track`` and events per second.

1. In process, no network: ``Tollgate.track`` with the flusher running against an
   ``httpx.MockTransport`` that answers 202 at once. CPU of the calling thread per call
   (``time.thread_time``: what a request handler pays), and CPU of the whole process per
   event (``time.process_time`` until everything is flushed: the flusher's joins and sends
   included). Median of several rounds of ``TRACK_CALLS`` calls.
2. Over HTTP on the local stack (``tollgate local`` in a subprocess): ``HTTP_EVENTS`` events
   tracked from ``HTTP_THREADS`` threads through one client, counted as the events the API
   accepted (202) divided by the wall time from the first ``track`` to the end of ``flush``.
   moto in one Python process is far slower than SQS; the figure is the local stack's.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

ROUNDS = 5
TRACK_CALLS = 100_000
HTTP_EVENTS = int(os.environ.get("TOLLGATE_BENCH_CLIENT_EVENTS", "40000"))
HTTP_THREADS = 4
TARGET_TRACK_US = 50.0  # issue 14: at most 50 us of CPU per tracked request in-process


def _accept(request: Any) -> Any:
    import httpx

    accepted = request.content.count(b'{"id":')  # each event's object starts with its id
    return httpx.Response(202, json={"accepted": accepted, "duplicates": 0, "rejected": []})


def _round() -> tuple[float, float]:
    import httpx

    from tollgate.client import Tollgate

    tg = Tollgate("http://bench.test", "k", transport=httpx.MockTransport(_accept), buffer_capacity=20_000)
    data = {"value": 1, "route": "/items/{id}", "method": "GET", "status": 200}
    tg.track("api_calls", subject="t1", data=data)  # start the flusher outside the measure
    tg.flush()
    process0, thread0 = time.process_time(), time.thread_time()
    for _ in range(TRACK_CALLS):
        tg.track("api_calls", subject="t1", data=data)
    thread_s = time.thread_time() - thread0
    tg.flush()
    process_s = time.process_time() - process0
    assert tg.stats.sent == TRACK_CALLS + 1, tg.stats
    tg.close()
    return thread_s / TRACK_CALLS * 1e6, process_s / TRACK_CALLS * 1e6


def in_process() -> dict[str, Any]:
    rounds = [_round() for _ in range(ROUNDS)]
    return {
        "calls_per_round": TRACK_CALLS,
        "rounds": ROUNDS,
        "track_cpu_us_calling_thread": round(statistics.median(r[0] for r in rounds), 2),
        "cpu_us_per_event_whole_process": round(statistics.median(r[1] for r in rounds), 2),
    }


def over_http() -> dict[str, Any]:
    import requests

    from tollgate.client import Tollgate

    from .local_stack import bench_tenant, running

    with running() as (base, admin_key), requests.Session() as session:
        tenant, meter, _ = bench_tenant(session, base, admin_key)
        tg = Tollgate(base, admin_key, flush_interval=0.2, timeout=60)
        per_thread = HTTP_EVENTS // HTTP_THREADS

        def work() -> None:
            for _ in range(per_thread):
                tg.track(meter, subject=tenant, data={"value": 1})

        started = time.perf_counter()
        threads = [threading.Thread(target=work) for _ in range(HTTP_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        flushed = tg.flush(600)
        wall = time.perf_counter() - started
        stats = tg.stats
        tg.close()
    return {
        "events": per_thread * HTTP_THREADS,
        "threads": HTTP_THREADS,
        "flushed": flushed,
        "accepted": stats.sent,
        "batches": stats.batches,
        "retries": stats.retries,
        "wall_s": round(wall, 2),
        "events_per_s": round(stats.sent / wall),
    }


def run() -> dict[str, Any]:
    result: dict[str, Any] = {"in_process": in_process()}
    try:
        result["local_stack_http"] = over_http()
    except RuntimeError as exc:  # the stack did not start: keep the in-process figures
        result["local_stack_http"] = {"error": str(exc)[-500:]}
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    p = result["in_process"]
    track = p["track_cpu_us_calling_thread"]
    out = [
        (
            "client track: CPU on the calling thread",
            f"{track} us",
            f"<= {TARGET_TRACK_US:g} us",
            "yes" if track <= TARGET_TRACK_US else "NO",
        ),
        ("client: process CPU per event (flusher included)", f"{p['cpu_us_per_event_whole_process']} us", "-", "-"),
    ]
    h = result.get("local_stack_http", {})
    if "error" in h:
        out.append(("client -> local stack: events/s", f"error: {h['error'][:60]}", "-", "-"))
    else:
        figure = (
            f"{h['events_per_s']} ({h['accepted']}/{h['events']} accepted, {h['threads']} threads, {h['wall_s']} s)"
        )
        out.append(("client -> local stack: events/s", figure, "-", "-"))
    return out
