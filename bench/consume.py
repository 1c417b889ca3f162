"""Section: POST /v1/consume - DynamoDB requests and CPU per decision, and latency on the local stack.

1. In-process, DynamoDB stubbed: the real limits handler (``functions/limits/app.py``:
   decorators, Edge, resolver, validation, the use case) on a tenant whose meter has one hard
   limit, then three limits. The stub answers like DynamoDB (empty counters, a transaction
   that commits), counts the requests of each kind, and the configuration caches are warm,
   as after an instance's first request. Paths: *warm* (the instance knows the counters'
   values: it wrote them last), *cold* (it does not: read, then write - the case whenever
   another instance wrote the counter since), a check (``amount: 0``), and a denial on a
   limit the instance knows is full. CPU is
   ``process_time``, median of several rounds. The Edge's revocation check (one GetItem per
   request, every route) is stubbed and counted apart.
2. Over HTTP on the local stack (``tollgate local`` in a subprocess: gateway emulation,
   authorizer, the limits function, moto server): p50/p99 of sequential decisions. moto in
   one Python process is much slower than DynamoDB; the figure is the local stack's, not AWS's.
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
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.handler_env import Context, set_environment

from .local_stack import bench_tenant, running

ROOT = Path(__file__).resolve().parent.parent
NAME = "consume"
ROUNDS = 7
MIN_ROUND_CPU = 0.2
HTTP_DECISIONS = 400
TARGET_LATENCY_MS = 5.0  # the seed systems' "< 5 ms per quota check"


# ------------------------------------------------------------------ stubbed DynamoDB
class StubDynamo:
    """batch_get_item / transact_write_items / put_item / get_item, answering as DynamoDB
    would for empty counters. ``deny`` makes every transaction fail on its first limit."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.deny = False
        self.items_per_transaction: list[int] = []

    def batch_get_item(self, RequestItems: dict) -> dict:  # noqa: N803
        self.calls["BatchGetItem"] += 1
        return {"Responses": {table: [] for table in RequestItems}, "UnprocessedKeys": {}}

    def transact_write_items(self, TransactItems: list) -> dict:  # noqa: N803
        from botocore.exceptions import ClientError

        self.calls["TransactWriteItems"] += 1
        self.items_per_transaction.append(len(TransactItems))
        if self.deny:
            reasons = [{"Code": "None"}] * len(TransactItems)
            first = next(i for i, t in enumerate(TransactItems) if "ConditionExpression" in t.get("Update", {}))
            reasons[first] = {"Code": "ConditionalCheckFailed", "Item": {"v": {"N": "1000"}}}
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return {}

    def put_item(self, **kwargs: Any) -> dict:
        self.calls["PutItem"] += 1
        return {}

    def get_item(self, **kwargs: Any) -> dict:
        self.calls["GetItem"] += 1
        return {}


def _environment() -> None:
    set_environment("WARNING")
    os.environ.pop("RATE_LIMITS_TABLE", None)  # the limiter's own cost is in the ratelimit section


def _load_handler():
    spec = importlib.util.spec_from_file_location("bench_limits_app", ROOT / "functions/limits/app.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_limits_app"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class _Found:
    """A repository that answers ``get`` from a dict (the catalog over it stays warm)."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def get(self, key: str, consistent: bool = False) -> Any:
        return self._items.get(key)


class _NoOverrides:
    def get(self, tenant_id: str, consistent: bool = False) -> tuple[tuple, None]:
        return (), None


def _stub_world(module: Any, stub: StubDynamo, limits: int, limit_value: int = 10**9) -> Any:
    """A fresh execution environment of the limits function: a new composition root whose
    catalog answers from memory (a warm cache) and whose counter store talks to ``stub``, and
    the function's edge rebuilt on it (the revocation check stubbed). Returns the root."""
    from tollgate.adapters.quota_store import QuotaStore
    from tollgate.api.apps import build_limits_edge
    from tollgate.domain.meters import Aggregation
    from tollgate.domain.periods import Window
    from tollgate.domain.plans import Enforcement, Limit, Plan
    from tollgate.domain.records import Meter, Tenant
    from tollgate.services.catalog import Catalog
    from tollgate.wiring import Root

    at = datetime(2026, 1, 1, tzinfo=UTC)
    windows = [Window.MONTH, Window.DAY, Window.MINUTE][:limits]
    plan = Plan(
        "bench",
        "Bench",
        tuple(Limit("api_calls", w, Decimal(limit_value), Enforcement.HARD) for w in windows),
        None,
        at,
        at,
    )
    tenant = Tenant(id="acme", name="Acme", created_at=at, updated_at=at, plan="bench", timezone="Europe/Paris")
    meter = Meter(key="api_calls", name="API calls", aggregation=Aggregation.COUNT, created_at=at)
    root = Root()
    assert root.settings.rate_limits_table is None  # the limiter's own cost is in the ratelimit section
    root.catalog = Catalog(
        _Found({"acme": tenant}), _Found({"api_calls": meter}), _Found({"bench": plan}), _NoOverrides(), ttl=3600
    )
    root.counter_store = QuotaStore(stub, events_table="events", counters_table="counters")
    edge = build_limits_edge(root)
    edge.key_is_active = lambda key_id: True
    module.root, module.limits_edge = root, edge  # what lambda_handler calls
    return root


def _event(body: dict[str, Any]) -> dict[str, Any]:
    event = json.loads((ROOT / "tests/events/apigw_http_request.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/consume"
    event["requestContext"]["http"]["method"] = "POST"
    event["routeKey"] = "POST /v1/consume"
    event["headers"] = {"content-type": "application/json"}
    event["body"] = json.dumps(body)
    event["isBase64Encoded"] = False
    event["requestContext"]["authorizer"] = {
        "lambda": {"key_id": "key_0123456789abcdef", "scope": "tenant", "tenant_id": "acme"}
    }
    return event


def _cpu_case(module: Any, root: Any, stub: StubDynamo, body_of, cold: bool) -> tuple[float, dict[str, float], int]:
    """Median CPU seconds per decision, DynamoDB requests per decision by kind, status."""
    inner = module.lambda_handler
    known = root.consume.known

    def handler(event: dict, ctx: Any) -> dict:
        if cold:
            known.reset()
        return inner(event, ctx)

    ctx = Context()
    n = 0
    with contextlib.redirect_stdout(io.StringIO()):
        reply = handler(_event(body_of(n)), ctx)
    stub.calls.clear()
    probe = 20
    with contextlib.redirect_stdout(io.StringIO()):
        for i in range(probe):
            reply = handler(_event(body_of(10_000 + i)), ctx)
    per_decision = {k: v / probe for k, v in stub.calls.items()}
    samples = []
    for r in range(ROUNDS):
        reps = 0
        events = [_event(body_of(100_000 * (r + 1) + i)) for i in range(2000)]
        with contextlib.redirect_stdout(io.StringIO()):
            start = time.process_time()
            while True:
                handler(events[reps % len(events)], ctx)
                reps += 1
                spent = time.process_time() - start
                if spent >= MIN_ROUND_CPU:
                    break
        samples.append(spent / reps)
    return statistics.median(samples), per_decision, reply["statusCode"]


def in_process() -> dict[str, Any]:
    _environment()
    sys.path.insert(0, str(ROOT / "shared"))
    module = _load_handler()
    out: dict[str, Any] = {}
    one = lambda i: {"id": f"e{i}", "meter": "api_calls"}  # noqa: E731
    cases = [  # name, limits, limit, cold, body
        ("allowed_1_limit_warm", 1, 10**9, False, one),
        ("allowed_3_limits_warm", 3, 10**9, False, one),
        ("allowed_1_limit_cold", 1, 10**9, True, one),
        ("check_only_1_limit", 1, 10**9, True, lambda i: {"meter": "api_calls", "amount": 0}),
        ("denied_1_limit_known_full", 1, 1, False, one),
    ]
    for name, limits, limit_value, cold, body_of in cases:
        stub = StubDynamo()
        root = _stub_world(module, stub, limits, limit_value)
        seconds, requests_by_kind, status = _cpu_case(module, root, stub, body_of, cold)
        out[name] = {
            "status": status,
            "cpu_us_per_decision": round(seconds * 1e6, 1),
            "dynamodb_requests_per_decision": round(sum(requests_by_kind.values()), 2),
            "requests_by_kind": requests_by_kind,
            "transaction_items": max(stub.items_per_transaction, default=0),
        }
    out["edge_revocation_check_requests"] = 1  # GetItem on the keys table, every authenticated route
    return out


# ------------------------------------------------------------------ the local stack over HTTP
def on_local_stack() -> dict[str, Any]:
    import requests

    with running() as (base, admin_key):
        s = requests.Session()
        tenant, meter, headers = bench_tenant(s, base, admin_key)
        out: dict[str, Any] = {}
        cases = (
            ("allowed", "POST", "/v1/consume", lambda i: {"id": f"b{i}", "meter": meter}),
            ("check_only", "POST", "/v1/consume", lambda i: {"meter": meter, "amount": 0}),
            # baselines: the stack's own cost per request, for reading the figures above
            ("baseline_health", "GET", "/health", None),
            ("baseline_get_tenant", "GET", f"/v1/tenants/{tenant}", None),
        )
        for name, method, path, body_of in cases:

            def call(i: int, method=method, path=path, body_of=body_of):
                return s.request(method, f"{base}{path}", headers=headers, json=body_of(i) if body_of else None)

            for i in range(30):  # warm-up
                call(-1 - i)
            latencies = []
            for i in range(HTTP_DECISIONS):
                started = time.perf_counter()
                r = call(i)
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{name} failed: {r.status_code} {r.text}")
            latencies.sort()
            out[name] = {
                "decisions": HTTP_DECISIONS,
                "p50_ms": round(statistics.median(latencies), 2),
                "p99_ms": round(latencies[int(0.99 * len(latencies)) - 1], 2),
            }
        return out


def run() -> dict[str, Any]:
    result: dict[str, Any] = {"in_process": in_process()}
    try:
        result["local_stack_http"] = on_local_stack()
    except Exception as exc:  # noqa: BLE001 - report, do not hide the other figures
        result["local_stack_http"] = {"error": f"{type(exc).__name__}: {exc}"}
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for name, c in result["in_process"].items():
        if not isinstance(c, dict):
            continue
        kinds = ", ".join(f"{k} {v:g}" for k, v in sorted(c["requests_by_kind"].items()))
        target, met = "-", "-"
        if name == "allowed_1_limit_warm":
            target = "1"
            met = "yes" if c["dynamodb_requests_per_decision"] <= 1 else "NO"
        out.append(
            (
                f"consume {name.replace('_', ' ')}: DynamoDB requests/decision",
                f"{c['dynamodb_requests_per_decision']:g} ({kinds})",
                target,
                met,
            )
        )
        out.append((f"consume {name.replace('_', ' ')}: CPU/decision", f"{c['cpu_us_per_decision']} us", "-", "-"))
    http = result.get("local_stack_http", {})
    if "error" in http:
        out.append(("consume p50/p99 on the local stack", http["error"][:80], f"< {TARGET_LATENCY_MS} ms", "?"))
    for name, c in http.items():
        if isinstance(c, dict):
            what = name.replace("baseline_", "baseline: ") if name.startswith("baseline") else f"consume {name}"
            out.append(
                (
                    f"{what} latency on the local stack (HTTP, moto)",
                    f"p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms",
                    f"< {TARGET_LATENCY_MS} ms (AWS)",
                    "see note",
                )
            )
    return out
