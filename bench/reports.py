"""Section: the monthly report job at scale (moto in-process, the real services and adapters).

``TENANTS`` tenants (default 10,000; ``BENCH_REPORT_TENANTS`` sets another count) on two
plans, each with November counters for two meters (one with a monthly limit priced above it,
one charged without a limit), a limit override on every tenth, and an issued invoice (a
realistic ~2 KB document) for every other one, written straight to the tables. Then the job
as the ReportsFunction runs it (``ReportService.publish``: both files to S3, report.ready),
twice: once for the wall time, once under ``tracemalloc`` for the peak of Python memory (the
rerun rewrites the files and publishes nothing: the alert exists).

Figures: wall and CPU time (one process; moto's server calls in-process, AWS latencies not
modelled; on a shared machine the CPU time is the steadier figure),
peak traced memory of the run, the process's max RSS (moto's tables of the whole world
included: an upper bound of what the function would hold), DynamoDB requests and read units
per tenant (``tollgate_dev.cost.DynamoCost``: the tenant scan, the catalog's reads, one
counter query per reported meter, the period's invoice listing), and the two files' sizes.

moto answers a Query of a table (not an index) by sorting and filtering every item of the
table: with 20,000 counter items and a query per counter, that (not Tollgate) makes the run
quadratic. ``_partition_queries`` lets a base-table Query read only its partition, as
DynamoDB does; the items returned, their order and everything else moto does are unchanged.
With ``_no_rollback_copy`` (bench/invoices.py) for the seeding's audited writes.
"""

from __future__ import annotations

import os
import resource
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TENANTS = int(os.environ.get("BENCH_REPORT_TENANTS", "10000"))
PERIOD = "2026-11"
START = datetime(2026, 11, 1, tzinfo=UTC)
AFTER = datetime(2026, 12, 1, 13, tzinfo=UTC)  # the schedule's time
LAMBDA_TIMEOUT_S = 900
LAMBDA_MEMORY_MB = 1024


class _Clock:
    def now(self) -> datetime:
        return AFTER


def _bulk(root: Any, table: str, items: list[dict[str, Any]]) -> None:
    for i in range(0, len(items), 25):
        root.dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]})


def _catalog(root: Any) -> None:
    from tollgate.domain.meters import Aggregation
    from tollgate.domain.periods import Window
    from tollgate.domain.plans import Limit

    for key in ("calls", "storage"):
        root.meters.create_meter({"key": key, "name": key, "aggregation": Aggregation.SUM})
    charges = [
        {"meter": "calls", "model": "per_unit", "unit_amount": "0.001", "free_units": "100000"},
        {"meter": "storage", "model": "per_unit", "unit_amount": "0.02"},
    ]
    for plan, limit in (("pro", 100_000), ("team", 500_000)):
        limits = [Limit("calls", Window.MONTH, Decimal(limit))]
        root.plans.put_plan(plan, plan, limits, None, actor="bench", currency="USD", charges=charges)


def _seed(root: Any, ids: list[str]) -> None:
    from tollgate.adapters.invoices import _invoice_item
    from tollgate.domain import periods
    from tollgate.domain import storage_keys as keys
    from tollgate.domain.invoices import InvoiceStatus, StoredInvoice, invoice_id
    from tollgate.domain.periods import Window
    from tollgate.domain.plans import Limit

    created = "2026-10-01T00:00:00.000000+0000"  # pynamodb's UTCDateTimeAttribute
    s = root.settings
    _bulk(
        root,
        s.tenants_table,
        [
            {
                "id": {"S": t},
                "name": {"S": f"Tenant {t}"},
                "timezone": {"S": "UTC"},
                "plan": {"S": "pro" if i % 3 else "team"},
                "currency": {"S": "USD"},
                "created_at": {"S": created},
                "updated_at": {"S": created},
            }
            for i, t in enumerate(ids)
        ],
    )
    sk = keys.total_sk(periods.utc_key(START))
    counters = []
    for i, t in enumerate(ids):
        counters.append(
            {"pk": {"S": keys.total_pk(t, "calls", Window.MONTH)}, "sk": {"S": sk}, "v": {"N": str(1000 * i)}}
        )
        counters.append({"pk": {"S": keys.total_pk(t, "storage", Window.MONTH)}, "sk": {"S": sk}, "v": {"N": str(i)}})
    _bulk(root, s.counters_table, counters)
    for t in ids[::10]:
        root.tenants.set_overrides(t, [Limit("calls", Window.MONTH, Decimal(250_000))], actor="bench")
    lines = [
        {"type": "charge", "meter": m, "description": f"{m} usage", "quantity": "1000", "amount": "1.00"}
        for m in ("calls", "storage", "calls", "storage")
    ]
    invoices = []
    for i, t in enumerate(ids[::2]):
        doc = {"number": f"TG-{i:06d}", "tenant_id": t, "total": "12.34", "currency": "USD", "lines": lines}
        doc["bill_to"] = {"name": f"Tenant {t}", "billing_address": {"line1": "x" * 200, "country": "US"}}
        inv = StoredInvoice(
            id=invoice_id(t, PERIOD),
            tenant_id=t,
            period=PERIOD,
            status=InvoiceStatus.ISSUED,
            currency="USD",
            doc=doc,
            created_at=AFTER,
            updated_at=AFTER,
            number=f"TG-{i:06d}",
            issued_at=AFTER,
            delivered=True,
        )
        invoices.append(_invoice_item(inv))
    _bulk(root, s.invoices_table, invoices)


def _run_job() -> dict[str, Any]:
    from tollgate.adapters.models import ALL_MODELS
    from tollgate.wiring import Root
    from tollgate_dev.cost import DynamoCost

    root = Root(clock=_Clock())
    _catalog(root)
    ids = [f"t{i:05d}" for i in range(TENANTS)]
    _seed(root, ids)

    job = Root(clock=_Clock())  # a fresh execution environment: cold caches
    cost = DynamoCost().attach(job.dynamodb)
    for model in ALL_MODELS:
        cost.attach(model._get_connection().connection.client)
    started, cpu_started = time.perf_counter(), time.process_time()
    written = job.reports.publish(PERIOD)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    requests, read_units = cost.total_requests, cost.read_units
    by_operation = dict(cost.requests)

    tracemalloc.start()
    Root(clock=_Clock()).reports.publish(PERIOD)  # the rerun, traced
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "tenants": written.tenants,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "tenants_per_second": round(written.tenants / wall, 1),
        "peak_traced_mib": round(peak / 2**20, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "dynamodb_requests": requests,
        "dynamodb_requests_per_tenant": round(requests / written.tenants, 2),
        "dynamodb_requests_by_operation": by_operation,
        "read_units_per_tenant": round(read_units / written.tenants, 2),
        "json_bytes": written.bytes["json"],
        "csv_bytes": written.bytes["csv"],
        "tenants_with_overages": written.summary["tenants_with_overages"],
    }


def _partition_queries() -> Any:
    """moto's base-table Query reading only the queried partition (see the module's docstring)."""
    import contextlib

    from moto.dynamodb.models.table import Table

    original_query, original_all = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        self._bench_partition = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            self._bench_partition = None

    def all_items(self: Any) -> Any:
        key = getattr(self, "_bench_partition", None)
        if key is None:
            return original_all(self)
        return sorted(self.items.get(key, {}).values(), key=lambda item: item.range_key)

    @contextlib.contextmanager
    def patch() -> Any:
        Table.query, Table.all_items = query, all_items
        try:
            yield
        finally:
            Table.query, Table.all_items = original_query, original_all

    return patch()


def run() -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT))
    from bench.invoices import _no_rollback_copy
    from tests.conftest import moto_stack

    with moto_stack(), _no_rollback_copy(), _partition_queries():
        return {"job": _run_job(), "lambda": {"timeout_s": LAMBDA_TIMEOUT_S, "memory_mb": LAMBDA_MEMORY_MB}}


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    j = r["job"]
    return [
        (
            f"report job, {j['tenants']:,} tenants (moto in-process)",
            f"{j['wall_seconds']} s wall, {j['cpu_seconds']} s CPU ({j['tenants_per_second']} tenants/s)",
            f"< {LAMBDA_TIMEOUT_S} s (Lambda timeout)",
            "yes" if j["wall_seconds"] < LAMBDA_TIMEOUT_S else "no",
        ),
        (
            "report job memory: peak traced / max RSS (moto included)",
            f"{j['peak_traced_mib']} MiB / {j['max_rss_mib']} MiB",
            f"< {LAMBDA_MEMORY_MB} MB (function memory)",
            "yes" if j["peak_traced_mib"] < LAMBDA_MEMORY_MB else "no",
        ),
        (
            "report job DynamoDB requests / read units per tenant",
            f"{j['dynamodb_requests_per_tenant']} / {j['read_units_per_tenant']}",
            "constant per tenant (1 per meter + overrides)",
            "yes" if j["dynamodb_requests_per_tenant"] < 5 else "no",
        ),
        (
            "report files: JSON / CSV",
            f"{j['json_bytes'] / 2**20:.1f} MiB / {j['csv_bytes'] / 2**20:.1f} MiB",
            "streamed (spooled temp files)",
            "yes",
        ),
    ]
