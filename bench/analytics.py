"""Section: what analytics costs (moto in-process, the real roll-up store, job and query service).

- **Queries** over roll-ups seeded for ``TENANTS`` tenants (default 10,000) through the store's
  own writes: 91 days of day totals (September to November, 4 plans), the three months' tenant
  items (every tenant active every month), ``EDGE_DAYS`` day partitions of every tenant before
  September, and 91 days of the top tenants' own days. Each query's DynamoDB requests and read
  units are counted by ``tollgate_dev.cost.DynamoCost`` (read units from the bytes returned,
  as DynamoDB bills a Query: eventually consistent 4 KB units; the index is eventually
  consistent, the table reads the job makes are not, and are billed as such by AWS: this counts
  the query side, which reads no table strongly).
- **The job**: ``PAIRS`` active (tenant, meter) pairs with 36 days of day counters and today's
  hour counters; the requests of a first run (every day new), of a run after one new event per
  pair (one day changed), and of a run with nothing changed, per active pair.

moto answers what DynamoDB would for these calls; its latencies are not AWS's, so no time is
reported.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tollgate.domain.meters import Aggregation

ROOT = Path(__file__).resolve().parent.parent
TENANTS = int(os.environ.get("BENCH_ANALYTICS_TENANTS", "10000"))
EDGE_DAYS = int(os.environ.get("BENCH_ANALYTICS_EDGE_DAYS", "3"))
PAIRS = int(os.environ.get("BENCH_ANALYTICS_PAIRS", "200"))
TOP_SERIES = 100
PLANS = ("free", "starter", "pro", "enterprise")
METER = "api_calls"
SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (9, 10, 11, 12))
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _tenant(i: int) -> str:
    return f"t{i:05d}"


def _value(i: int, salt: int) -> Decimal:
    return Decimal((i * 7919 + salt * 104729) % 100_000)


def _seed(store: Any) -> None:
    day = SEP
    while day < DEC:
        plans = {p: _value(n, day.toordinal()) for n, p in enumerate(PLANS)}
        store.put_day_series(METER, day, sum(plans.values(), Decimal(0)), plans)
        day += timedelta(days=1)
    for month in (SEP, OCT, NOV):
        for i in range(TENANTS):
            store.put_month(METER, month, _tenant(i), PLANS[i % len(PLANS)], _value(i, month.month))
    edges = {SEP - timedelta(days=k + 1): Decimal(0) for k in range(EDGE_DAYS)}
    for i in range(TENANTS):
        store.put_tenant_days(METER, _tenant(i), PLANS[i % len(PLANS)], {d: _value(i, d.day) for d in edges})
    days91 = {SEP + timedelta(days=k): Decimal(0) for k in range(91)}
    for i in range(TOP_SERIES):
        store.put_tenant_days(METER, _tenant(i), PLANS[i % len(PLANS)], {d: _value(i, d.day) for d in days91})


def _attach(root: Any) -> Any:
    """A cost counter on the root's client and on every pynamodb model's (the catalog's reads)."""
    from tollgate.adapters.models import ALL_MODELS
    from tollgate_dev.cost import DynamoCost

    cost = DynamoCost().attach(root.dynamodb)
    for model in ALL_MODELS:
        cost.attach(model._get_connection().connection.client)
    return cost


def _measure(cost: Any, call: Any) -> dict[str, Any]:
    cost.reset()
    call()
    return {"requests": cost.total_requests, "read_units": round(cost.read_units, 1)}


def _queries() -> dict[str, Any]:
    from tollgate.services.analytics import Query
    from tollgate.wiring import Root

    root = Root(clock=_Clock(NOW))
    root.meters.create_meter({"key": METER, "name": METER, "aggregation": Aggregation.SUM})
    _seed(root.rollup_store)
    cost = _attach(root)
    a = root.analytics
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    edge_start = start - timedelta(days=EDGE_DAYS)
    nov = datetime(2026, 11, 1, tzinfo=UTC)
    return {
        "tenants": TENANTS,
        "edge_days": EDGE_DAYS,
        "series_91_days": _measure(cost, lambda: a.usage(Query(METER, start, end))),
        "group_by_plan_91_days": _measure(cost, lambda: a.usage(Query(METER, start, end, group_by="plan"))),
        "group_by_tenant_3_whole_months": _measure(cost, lambda: a.usage(Query(METER, start, end, group_by="tenant"))),
        "group_by_tenant_one_month": _measure(cost, lambda: a.usage(Query(METER, nov, end, group_by="tenant"))),
        "group_by_tenant_3_months_and_edge_days": _measure(
            cost, lambda: a.usage(Query(METER, edge_start, end, group_by="tenant"))
        ),
        "day_partition": _measure(cost, lambda: root.rollup_reads.day_tenants(METER, SEP - timedelta(days=1))),
        "month_partition": _measure(cost, lambda: root.rollup_reads.month_tenants(METER, NOV)),
        "tenant_list_page_50": _measure(cost, lambda: a.ranked_tenants(METER, 50, None)),
    }


def _counters(root: Any, day_of_month: int) -> None:
    """Every pair's day counters of the last 36 days and hour counters of 1 December."""
    from tollgate.domain import periods
    from tollgate.domain import storage_keys as keys
    from tollgate.domain.periods import Window

    items = []
    for i in range(PAIRS):
        tenant = _tenant(i)
        for k in range(36):
            start = datetime(2026, 11, 30, tzinfo=UTC) - timedelta(days=35 - k)
            pk = keys.total_pk(tenant, METER, Window.DAY)
            items.append({"pk": {"S": pk}, "sk": {"S": periods.utc_key(start)}, "v": {"N": str(k + 1)}})
        for h in range(11):
            pk = keys.total_pk(tenant, METER, Window.HOUR)
            at = datetime(2026, 12, 1, h, tzinfo=UTC)
            items.append({"pk": {"S": pk}, "sk": {"S": periods.utc_key(at)}, "v": {"N": str(h + day_of_month)}})
        pk = keys.total_pk(tenant, METER, Window.DAY)
        total = sum(h + day_of_month for h in range(11))
        items.append({"pk": {"S": pk}, "sk": {"S": "2026-12-01T00:00:00Z"}, "v": {"N": str(total)}})
    table = root.settings.counters_table
    for n in range(0, len(items), 25):
        root.dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[n : n + 25]]})


def _job() -> dict[str, Any]:
    from tollgate.services.rollup_job import RollupJob
    from tollgate.wiring import Root

    root = Root(clock=_Clock(NOW))
    root.meters.create_meter({"key": METER, "name": METER, "aggregation": Aggregation.SUM})
    for i in range(PAIRS):
        root.tenants.create_tenant({"id": _tenant(i), "name": _tenant(i)}, actor="bench")
    _counters(root, 1)
    root.activity_index.mark(NOW, [(_tenant(i), METER) for i in range(PAIRS)])
    cost = _attach(root)
    # one worker: moto in-process is not thread-safe (the Lambda runs 8, against DynamoDB)
    job = RollupJob(
        root.activity_index,
        root.catalog,
        root.counter_reader,
        root.rollup_store,
        root.clock,
        root.operator_zone,
        workers=1,
    )
    out: dict[str, Any] = {"pairs": PAIRS}
    for name, change in (("first_run", None), ("one_day_changed", 2), ("nothing_changed", None)):
        if change is not None:
            _counters(root, change)
        cost.reset()
        report = job.run()
        out[name] = {
            "requests": cost.total_requests,
            "requests_per_pair": round(cost.total_requests / PAIRS, 2),
            "write_units_per_pair": round(cost.write_units / PAIRS, 2),
            "read_units_per_pair": round(cost.read_units / PAIRS, 2),
            "days_redone": report.days,
            "by_operation": dict(cost.requests),
        }
    return out


def run() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import moto_stack

    with moto_stack():
        queries = _queries()
    with moto_stack():
        job = _job()
    return {"queries": queries, "job": job}


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    q, job = r["queries"], r["job"]
    n = f"{q['tenants']:,} tenants"

    def fig(m: dict[str, Any]) -> str:
        return f"{m['requests']} requests, {m['read_units']} RRU"

    edge = q["group_by_tenant_3_months_and_edge_days"]
    series, plan, month = q["series_91_days"], q["group_by_plan_91_days"], q["group_by_tenant_one_month"]
    return [
        (f"series, 91 days, {n}", fig(series), "2 (the meter, 1 Query)", _met(series, 2)),
        (f"group_by=plan, 91 days, {n}", fig(plan), "3 (+ the plans' Query)", _met(plan, 3)),
        (f"group_by=tenant, one month, {n}", fig(month), "3 + limit (10)", _met(month, 13)),
        (f"group_by=tenant, 3 whole months, {n}", fig(q["group_by_tenant_3_whole_months"]), "O(tenants x months)", "-"),
        (f"group_by=tenant, 3 months + {q['edge_days']} edge days, {n}", fig(edge), "O(tenants x edge days)", "-"),
        (f"one day partition (every tenant of a day), {n}", fig(q["day_partition"]), "-", "-"),
        (f"one month partition, {n}", fig(q["month_partition"]), "-", "-"),
        (
            f"tenant list sort=usage:<meter>, ranking of a page of 50, {n}",
            fig(q["tenant_list_page_50"]),
            "1 request",
            _met(q["tenant_list_page_50"], 1),
        ),
        (
            f"roll-up job, requests per active pair ({job['pairs']} pairs): new / one day changed / unchanged",
            " / ".join(str(job[k]["requests_per_pair"]) for k in ("first_run", "one_day_changed", "nothing_changed")),
            "at most 3.5 unchanged, 10 one day changed",
            "yes"
            if job["nothing_changed"]["requests_per_pair"] <= 3.5 and job["one_day_changed"]["requests_per_pair"] <= 10
            else "no",
        ),
    ]


def _met(m: dict[str, Any], most: int) -> str:
    return "yes" if m["requests"] <= most else "no"
