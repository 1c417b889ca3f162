"""Section (a): CPU of the ingest handler per event, SQS stubbed.

The real handler (``functions/ingest/app.py``: Logger and Metrics decorators, Edge, resolver,
parsing, validation, packing, the SendMessageBatch loop) runs on in-process requests of 1, 100
and 1000 events. Stubbed, so only our code is timed: the SQS client (answers "all sent"),
the API key check (one GetItem per request in production) and the tenant/meter caches
(always warm, as they are after the first request of an instance). CPU is ``process_time``
of the whole loop, median of several rounds; output to stdout (log lines, EMF) goes to
/dev/null.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.handler_env import Context, set_environment

ROOT = Path(__file__).resolve().parent.parent
NAME = "ingest_cpu"
CASES = [(1, 1), (100, 1), (1000, 1), (1000, 10)]  # (events per request, tenants)
TARGET_EVENTS_PER_S = 50_000
TARGET_SQS_REQUESTS_PER_EVENT = 0.002
ROUNDS = 7
MIN_ROUND_CPU = 0.15  # seconds of CPU per round


class StubSQS:
    """SendMessageBatch that takes everything and remembers sizes (no network, no moto)."""

    def __init__(self) -> None:
        self.calls = 0
        self.bodies: list[int] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        self.bodies.extend(len(e["MessageBody"]) for e in Entries)
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in Entries], "Failed": []}


def _environment() -> None:
    set_environment("INFO", USAGE_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/bench")


def _load_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_ingest_app", ROOT / "functions/ingest/app.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_ingest_app"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class _DictRepo:
    """A repository read from a dict (the catalog's loaders; the catalog is warm when timed)."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def get(self, key: str, consistent: bool = False) -> Any:
        return self._items.get(key)


def _stub_world(module: Any, stub: StubSQS, tenants: int) -> None:
    """Give the handler's module a new execution environment: a composition root on the
    bench's settings, with SQS, the tenant/meter catalog and the key check stubbed, and its
    ingest Edge (the handler calls the module's ``ingest_edge``)."""
    from tollgate.adapters.queue import UsageQueue
    from tollgate.api.ingest_app import build_ingest_edge
    from tollgate.config import Settings
    from tollgate.domain.meters import Aggregation
    from tollgate.domain.records import Meter, Tenant
    from tollgate.services.catalog import Catalog
    from tollgate.wiring import Root

    at = datetime(2026, 1, 1, tzinfo=UTC)
    known_tenants = {
        f"tenant-{i}": Tenant(id=f"tenant-{i}", name="t", created_at=at, updated_at=at, timezone="Europe/Paris")
        for i in range(tenants)
    }
    meters = {
        "api_calls": Meter(
            key="api_calls", name="API calls", aggregation=Aggregation.SUM, created_at=at, group_by=["region"]
        )
    }
    root = Root(Settings.from_env())  # RATE_LIMITS_TABLE unset: the API rate limit is off, as before
    # Set before first use, so the root's services are built on them (cached properties).
    root.catalog = Catalog(_DictRepo(known_tenants), _DictRepo(meters), _DictRepo({}), _DictRepo({}), ttl=3600)
    root.usage_queue = UsageQueue(stub, root.settings.usage_queue_url, sleep=lambda s: None)
    edge = build_ingest_edge(root)
    edge.key_is_active = lambda key_id: True
    module.root, module.ingest_edge = root, edge


def _request(n: int, tenants: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    events = [
        {
            "specversion": "1.0",
            "id": f"evt-{i:06d}-7f3a9c",
            "type": "api_calls",
            "source": "/bench",
            "subject": f"tenant-{i % tenants}",
            "time": (now - timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "data": {"value": (i % 7) + 1, "region": "eu" if i % 2 else "us"},
        }
        for i in range(n)
    ]
    event = json.loads((ROOT / "tests/events/apigw_http_request.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/events"
    event["routeKey"] = "$default"
    event["headers"]["content-type"] = "application/cloudevents-batch+json"
    event["body"] = json.dumps(events)
    event["requestContext"]["authorizer"] = {
        "lambda": {"key_id": "key_0123456789abcdef", "scope": "ingest", "tenant_id": ""}
    }
    return event


@contextlib.contextmanager
def quiet():
    """Send fd 1 to /dev/null: the Logger's handler holds the real stdout, so redirect_stdout
    alone would not silence it. Writing the lines is still part of the timed work."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
        sys.stdout.flush()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _measure(handler, event: dict[str, Any], n: int) -> tuple[float, dict[str, Any]]:
    ctx = Context()
    with quiet():
        reply = handler(event, ctx)
        for _ in range(3):
            handler(event, ctx)
    body = json.loads(reply["body"])
    if reply["statusCode"] != 202 or body["accepted"] != n:
        raise RuntimeError(f"bench request failed: {reply}")
    per_event: list[float] = []
    for _ in range(ROUNDS):
        reps = 0
        with quiet():
            start = time.process_time()
            while True:
                handler(event, ctx)
                reps += 1
                spent = time.process_time() - start
                if spent >= MIN_ROUND_CPU:
                    break
        per_event.append(spent / (reps * n))
    return statistics.median(per_event), body


def run() -> dict[str, Any]:
    _environment()
    sys.path.insert(0, str(ROOT / "shared"))
    module = _load_module()
    handler = module.lambda_handler
    out: dict[str, Any] = {"cases": {}}
    for n, tenants in CASES:
        stub = StubSQS()
        _stub_world(module, stub, tenants)
        event = _request(n, tenants)
        stub.calls, stub.bodies = 0, []
        with quiet():
            handler(event, Context())
        calls, sizes = stub.calls, list(stub.bodies)
        seconds, _ = _measure(handler, event, n)
        from tollgate.adapters.queue import billed_requests

        out["cases"][f"{n}x{tenants}"] = {
            "events": n,
            "tenants": tenants,
            "us_per_event": round(seconds * 1e6, 2),
            "events_per_s_one_core": round(1 / seconds),
            "request_bytes": len(event["body"]),
            "sqs_messages": len(sizes),
            "sqs_message_bytes_max": max(sizes),
            "sqs_requests": calls,
            "sqs_requests_per_event": round(calls / n, 5),
            "sqs_billed_requests_per_event": round(billed_requests(sizes) / n, 5),
        }
    return out


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for c in result["cases"].values():
        what = f"ingest CPU, {c['events']} events/request" + (f", {c['tenants']} tenants" if c["tenants"] > 1 else "")
        target = f">= {TARGET_EVENTS_PER_S:,} ev/s" if c["events"] == 1000 else "-"
        met = ("yes" if c["events_per_s_one_core"] >= TARGET_EVENTS_PER_S else "NO") if c["events"] == 1000 else "-"
        out.append((what, f"{c['events_per_s_one_core']:,} ev/s ({c['us_per_event']} us/event)", target, met))
    for c in result["cases"].values():
        if c["events"] == 1000:
            out.append(
                (
                    f"SQS requests/event, 1000 events, {c['tenants']} tenant(s)",
                    f"{c['sqs_requests_per_event']} ({c['sqs_messages']} msg, {c['sqs_requests']} call; "
                    f"billed 64KiB: {c['sqs_billed_requests_per_event']})",
                    f"<= {TARGET_SQS_REQUESTS_PER_EVENT}",
                    "yes" if c["sqs_requests_per_event"] <= TARGET_SQS_REQUESTS_PER_EVENT else "NO",
                )
            )
    return out
