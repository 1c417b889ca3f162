"""Section: what alerting costs (moto in-process, the real consumer, stream and alert path).

- **Nothing crosses**: one tenant counts ``MESSAGES`` messages of 1,000 events, far under its
  limits; the counters table's stream records go through ``RealTimeAlerts`` (what the
  alerts function runs). ``tollgate_dev.cost.DynamoCost`` counts every DynamoDB request and
  write unit the alert path makes. The consumer itself makes none for alerting (the stream
  carries old and new values; reading a stream from Lambda is not billed).
- **Publishes per alert**: tenants cross every threshold (0.5, 0.8, 1.0 and over); SNS
  ``Publish`` calls counted by a botocore hook, divided by the alerts stored.
- **Latency, counted to stored notification** (the local stack, ``tollgate local`` in a
  subprocess): ``LATENCY_SAMPLES`` tenants, each on a limit of 1 event a day, send one event;
  a poller reads ``GET /v1/quotas`` (counted: ``used`` is 1) and ``GET /v1/notifications``
  (stored: the alert is listed) every 50 ms. Latency = stored - counted: the stream poller,
  its 1 s batching window and the alerts function.
- **The sweep at 10,000 tenants, 100 active**: 10,000 tenants on a plan with limits, 100 of
  them with usage and marked active in the activity index; DynamoDB requests and read/write
  units of one ``AlertSweep.run()`` (the scheduled job's), then of a second run (nothing new).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 10
EVENTS = 1000
TENANTS = 10_000
ACTIVE = 100
THRESHOLDS = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))
TARGET_WU_PER_EVENT = 0.01
LATENCY_SAMPLES = 20
TARGET_LATENCY_S = 10.0
POLL_S = 0.05


def _stream(root: Any) -> Any:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodbstreams", region_name=root.settings.region, config=Config(account_id_endpoint_mode="disabled")
    )
    arn = root.dynamodb.describe_table(TableName=root.settings.counters_table)["Table"]["LatestStreamArn"]
    shard = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]

    def read() -> list[dict[str, Any]]:
        nonlocal iterator
        out = []
        while True:
            resp = client.get_records(ShardIterator=iterator, Limit=1000)
            iterator = resp["NextShardIterator"]
            records = resp["Records"]
            out += [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"].startswith("T#")]  # the filter
            if not records:
                return out

    return read


def _cost(root: Any) -> Any:
    """Every DynamoDB request of ``root``: its client's, and the repositories' (pynamodb's own)."""
    from tollgate.adapters.models import ALL_MODELS
    from tollgate_dev.cost import DynamoCost

    cost = DynamoCost().attach(root.dynamodb)
    for model in ALL_MODELS:
        cost.attach(model._get_connection().connection.client)
    return cost


def _setup(root: Any, tenants: list[str], limit: int) -> None:
    from tollgate.domain.meters import Aggregation
    from tollgate.domain.periods import Window
    from tollgate.domain.plans import Limit

    root.meters.create_meter({"key": "calls", "name": "calls", "aggregation": Aggregation.COUNT})
    limits = [Limit("calls", w, Decimal(limit), thresholds=THRESHOLDS) for w in (Window.DAY, Window.MONTH)]
    root.plans.put_plan("pro", "Pro", limits, None, actor="bench", reason="bench")
    for tenant in tenants:
        root.tenants.create_tenant({"id": tenant, "name": tenant, "timezone": "Europe/Paris", "plan": "pro"}, actor="b")


def _count(root: Any, tenant: str, n: int, first: int = 0) -> None:
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.wire.usage_message import encode

    at = format_time(root.clock.now())
    message = UsageMessage(
        tenant=tenant,
        timezone="Europe/Paris",
        meters={"calls": MeterSpec("calls", Aggregation.COUNT)},
        events=[UsageEvent(id=f"{tenant}-{i}", meter="calls", time=at, value="1") for i in range(first, first + n)],
    )
    assert not root.count_usage.count_messages([(str(uuid.uuid4()), encode(message))]).failed


def _nothing_crosses() -> dict[str, Any]:
    from tollgate.wiring import Root

    root = Root()
    _setup(root, ["acme"], 10**9)
    read = _stream(root)
    read()  # the setup's writes
    for m in range(MESSAGES):
        _count(root, "acme", EVENTS, m * EVENTS)
    records = read()
    evaluator = Root()  # the alerts function's environment: its catalog cold
    cost = _cost(evaluator)
    for record in records:
        evaluator.real_time_alerts.handle(record)
    events = MESSAGES * EVENTS
    return {
        "events": events,
        "stream_records": len(records),
        "requests": cost.total_requests,
        "requests_by_operation": dict(cost.requests),
        "write_units": cost.write_units,
        "write_units_per_event": cost.write_units / events,
    }


def _publishes_per_alert() -> dict[str, Any]:
    from tollgate.wiring import Root

    root = Root()
    tenants = [f"t{i}" for i in range(5)]
    _setup(root, tenants, 10)
    publishes = 0

    def count(**_: Any) -> None:
        nonlocal publishes
        publishes += 1

    root.notifier.client.meta.events.register("after-call.sns.Publish", count)
    read = _stream(root)
    for tenant in tenants:
        for first, n in ((0, 5), (5, 3), (8, 2), (10, 5)):
            _count(root, tenant, n, first)
    records = read()
    for record in records:
        root.real_time_alerts.handle(record)
    for record in records:  # redelivered: no publish
        root.real_time_alerts.handle(record)
    alerts = root.alert_store.unread_count(None)
    return {"alerts": alerts, "publishes": publishes, "publishes_per_alert": publishes / alerts}


def _sweep() -> dict[str, Any]:
    from tollgate.wiring import Root

    root = Root()
    tenants = [f"t{i:05d}" for i in range(TENANTS)]
    _setup(root, tenants[:1], 10)
    _bulk_tenants(root, tenants[1:])
    active = tenants[:: TENANTS // ACTIVE][:ACTIVE]
    for tenant in active:
        _count(root, tenant, 9)  # 0.5 and 0.8 of the day's and the month's limit: 4 alerts each

    root.activity_index.mark(root.clock.now(), [(t, "calls") for t in active])  # what the stream path marks
    sweep = root.alert_sweep
    cost = _cost(root)
    first = sweep.run()
    first_cost = {"requests": cost.total_requests, "read_units": cost.read_units, "write_units": cost.write_units}
    cost.reset()
    second = sweep.run()
    return {
        "tenants": TENANTS,
        "active": ACTIVE,
        "first_run": {**first_cost, "raised": first.raised, "tenants_read": first.tenants},
        "second_run": {
            "requests": cost.total_requests,
            "read_units": cost.read_units,
            "write_units": cost.write_units,
            "raised": second.raised,
        },
    }


def _bulk_tenants(root: Any, ids: list[str]) -> None:
    """Tenants written straight to the table (the sweep must not read them: only their count
    matters), 25 a request."""
    from datetime import UTC, datetime

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")  # pynamodb's UTCDateTimeAttribute
    table = root.settings.tenants_table
    for i in range(0, len(ids), 25):
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "id": {"S": t},
                        "name": {"S": t},
                        "timezone": {"S": "Europe/Paris"},
                        "plan": {"S": "pro"},
                        "created_at": {"S": now},
                        "updated_at": {"S": now},
                    }
                }
            }
            for t in ids[i : i + 25]
        ]
        root.dynamodb.batch_write_item(RequestItems={table: items})


def _latency() -> dict[str, Any]:
    import time
    from datetime import UTC, datetime

    import requests

    from bench.local_stack import running

    samples = []
    with running() as (base, admin_key):
        s = requests.Session()
        admin = {"Authorization": f"Bearer {admin_key}"}
        tag = uuid.uuid4().hex[:6]
        meter = f"alert{tag}"
        limit = {"meter": meter, "window": "day", "limit": 1, "thresholds": [1.0], "enforcement": "soft"}
        plan = {"name": "alerts", "limits": [limit], "api_rate_limit": {"per_second": 100000, "burst": 100000}}
        s.put(f"{base}/v1/plans/p{tag}", headers=admin, json=plan).raise_for_status()
        s.post(
            f"{base}/v1/meters", headers=admin, json={"key": meter, "name": meter, "aggregation": "count"}
        ).raise_for_status()
        for i in range(LATENCY_SAMPLES):
            tenant = f"t{tag}-{i}"
            s.post(
                f"{base}/v1/tenants", headers=admin, json={"id": tenant, "name": tenant, "plan": f"p{tag}"}
            ).raise_for_status()
            event = {"id": "e1", "type": meter, "subject": tenant, "time": datetime.now(UTC).isoformat(), "data": {}}
            s.post(f"{base}/v1/events", headers=admin, json=[event]).raise_for_status()
            counted = stored = None
            deadline = time.monotonic() + 60
            while stored is None and time.monotonic() < deadline:
                now = time.monotonic()
                if counted is None:
                    quotas = s.get(f"{base}/v1/quotas", headers=admin, params={"tenant": tenant}).json()["quotas"]
                    counted = now if quotas[0]["used"] >= 1 else None
                items = s.get(f"{base}/v1/notifications", headers=admin, params={"tenant": tenant}).json()["items"]
                if items:
                    stored = now
                    counted = counted or now
                time.sleep(POLL_S)
            if stored is None or counted is None:
                raise RuntimeError(f"no alert for {tenant} within 60 s")
            samples.append(stored - counted)
    samples.sort()
    return {
        "samples": len(samples),
        "p50_s": round(samples[len(samples) // 2], 2),
        "p99_s": round(samples[max(0, int(0.99 * len(samples)) - 1)], 2),
        "max_s": round(samples[-1], 2),
    }


def run() -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.conftest import moto_stack

    out: dict[str, Any] = {}
    for name, measure in (
        ("nothing_crosses", _nothing_crosses),
        ("publishes", _publishes_per_alert),
        ("sweep", _sweep),
    ):
        with moto_stack():
            out[name] = measure()
    out["latency"] = _latency()
    return out


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    n, p, s, lat = r["nothing_crosses"], r["publishes"], r["sweep"], r["latency"]
    return [
        (
            f"alert latency, counted to stored notification ({lat['samples']} crossings, local stack)",
            f"p50 {lat['p50_s']} s, p99 {lat['p99_s']} s",
            f"<= {TARGET_LATENCY_S:g} s",
            "yes" if lat["p99_s"] <= TARGET_LATENCY_S else "NO",
        ),
        (
            f"alerting's DynamoDB cost when nothing crosses ({MESSAGES} x {EVENTS}-event messages)",
            f"{n['write_units_per_event']:.4f} WU/event ({n['write_units']} WU, {n['requests']} requests "
            f"for {n['stream_records']} stream records; the consumer adds 0)",
            f"<= {TARGET_WU_PER_EVENT}",
            "yes" if n["write_units_per_event"] <= TARGET_WU_PER_EVENT else "NO",
        ),
        (
            "SNS publishes per alert (operators' topic; redelivered stream included)",
            f"{p['publishes_per_alert']:.2f} ({p['publishes']} for {p['alerts']} alerts)",
            "1",
            "yes" if p["publishes_per_alert"] == 1 else "NO",
        ),
        (
            f"alert sweep, {s['tenants']:,} tenants of which {s['active']} active: requests / RCU / WCU",
            f"first {s['first_run']['requests']} / {s['first_run']['read_units']:.0f} / "
            f"{s['first_run']['write_units']} ({s['first_run']['raised']} raised); "
            f"then {s['second_run']['requests']} / {s['second_run']['read_units']:.0f} / {s['second_run']['write_units']}",
            "grows with active tenants",
            "yes" if s["second_run"]["requests"] < 10 * s["active"] else "NO",
        ),
    ]
