"""Section: what invoicing costs (moto in-process, the real services and adapters).

- **The run at scale** (``TENANTS``): tenants on a priced plan (a base fee and 4 charges:
  per-model prices, the remainder, and a graduated meter), each with month counters; one
  ``POST /v1/invoice-runs`` worth of work: ``InvoiceRuns.start``, then every message of the
  invoice queue (moto's SQS) handled as the invoice function would (fan-out, one ``bill`` per
  tenant), then the hourly job after the grace (one ``finalize`` per draft: the number, the
  S3 documents, invoice.ready). Invoices per second, wall time, one process (moto's server
  calls in-process; AWS's latencies are not modelled).
- **DynamoDB requests per invoice**: one tenant's bill and finalize, counted by
  ``tollgate_dev.cost.DynamoCost``, for plans of 1, 5 and 20 charges, and for 10 and 10,000,000
  events in the period: the figure must grow with the charges and never with the events,
  since invoices read month counters, never raw events.
- **HTML render time**: ``render_invoice`` (jinja2) of a 20-line invoice, median of 500.

moto backs up every table a transaction touches with a deep copy, to roll it back on failure:
with 10,000 invoices in the table, that copy (not Tollgate) would dominate every issue and
every run outcome, quadratically. The run at scale turns the copy off (``_no_rollback_copy``):
it runs on one thread, where no transaction is cancelled, so nothing is ever rolled back.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TENANTS = int(os.environ.get("BENCH_INVOICE_TENANTS", "300"))
"""300 by default: moto answers an index query by scanning the whole table, so its time per
invoice grows with the invoices stored (1,000 tenants did not finish in 7 minutes, 10,000 not
in an hour). ``BENCH_INVOICE_TENANTS`` sets another count."""
TARGET_TENANTS = 10_000
PERIOD = "2026-11"
START = datetime(2026, 11, 1, tzinfo=UTC)
AFTER = datetime(2026, 12, 1, 13, tzinfo=UTC)  # November has ended in every zone
RENDERS = 500


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _charges(n: int) -> list[dict[str, Any]]:
    """``n`` charges: per-model prices on tokens, the remainder, then graduated ones on calls."""
    base = [
        {"meter": "tokens", "model": "per_unit", "unit_amount": "0.00001", "filter": {"model": "gpt-4o"}},
        {"meter": "tokens", "model": "per_unit", "unit_amount": "0.000001", "filter": {"model": "mini"}},
        {"meter": "tokens", "model": "per_unit", "unit_amount": "0.000002"},
        {
            "meter": "calls",
            "model": "graduated",
            "tiers": [{"up_to": 1000, "unit_amount": "0.01"}, {"up_to": None, "unit_amount": "0.005"}],
        },
    ]
    extra = [
        {"meter": f"m{i}", "model": "package", "package_size": 100, "package_amount": "1"} for i in range(max(0, n - 4))
    ]
    return (base + extra)[:n]


def _setup(root: Any, charges: int) -> None:
    from tollgate.domain.meters import Aggregation

    for key in ["tokens", "calls", *(f"m{i}" for i in range(max(0, charges - 4)))]:
        if root.meter_repo.get(key) is None:
            group_by = ["model"] if key == "tokens" else []
            root.meters.create_meter({"key": key, "name": key, "aggregation": Aggregation.SUM, "group_by": group_by})
    root.plans.put_plan(
        f"p{charges}",
        f"{charges} charges",
        [],
        None,
        actor="bench",
        base_fee=Decimal(29),
        charges=_charges(charges),
    )


def _bulk(root: Any, table: str, items: list[dict[str, Any]]) -> None:
    for i in range(0, len(items), 25):
        root.dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]})


def _tenants(root: Any, ids: list[str], plan: str, events: int = 1000) -> None:
    """Tenants and their November counters, written straight to the tables."""
    from tollgate.domain import periods
    from tollgate.domain import storage_keys as keys
    from tollgate.domain.periods import Window

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")  # pynamodb's UTCDateTimeAttribute
    tenant_items = [
        {
            "id": {"S": t},
            "name": {"S": t},
            "timezone": {"S": "UTC"},
            "plan": {"S": plan},
            "currency": {"S": "USD"},
            "created_at": {"S": now},
            "updated_at": {"S": now},
        }
        for t in ids
    ]
    _bulk(root, root.settings.tenants_table, tenant_items)
    sk = periods.utc_key(START)
    counters = []
    for t in ids:
        counters.append(
            {"pk": {"S": keys.total_pk(t, "tokens", Window.MONTH)}, "sk": {"S": sk}, "v": {"N": str(events * 1000)}}
        )
        counters.append(
            {"pk": {"S": keys.total_pk(t, "calls", Window.MONTH)}, "sk": {"S": sk}, "v": {"N": str(events)}}
        )
        for model, share in (("gpt-4o", 600), ("mini", 300)):
            pk = keys.group_pk(t, "tokens", Window.MONTH, "model")
            counters.append({"pk": {"S": pk}, "sk": {"S": keys.group_sk(sk, model)}, "v": {"N": str(events * share)}})
    _bulk(root, root.settings.counters_table, counters)


def _drain(root: Any) -> int:
    """Every message of the invoice queue, handled as the invoice function would."""
    sqs, url, handled = root.sqs, root.settings.invoice_queue_url, 0
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return handled
        for m in got:
            root.invoice_runs.handle(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            handled += 1


def _no_rollback_copy() -> Any:
    """moto's transaction backup, skipped (see the module's docstring)."""
    import copy as real_copy
    import types

    import moto.dynamodb.models as models

    shim = types.SimpleNamespace(deepcopy=lambda table, *_: table, copy=real_copy.copy)
    return _patched(models, "copy", shim)


def _patched(module: Any, name: str, value: Any) -> Any:
    import contextlib

    @contextlib.contextmanager
    def patch() -> Any:
        original = getattr(module, name)
        setattr(module, name, value)
        try:
            yield
        finally:
            setattr(module, name, original)

    return patch()


def _run_at_scale() -> dict[str, Any]:
    from tollgate.domain.invoices import invoice_id
    from tollgate.wiring import Root

    clock = _Clock(AFTER)
    root = Root(clock=clock)
    _setup(root, 4)
    ids = [f"t{i:05d}" for i in range(TENANTS)]
    _tenants(root, ids, "p4")
    started = time.perf_counter()
    run = root.invoice_runs.start(PERIOD)
    _drain(root)
    billed = time.perf_counter()
    clock.at = AFTER + timedelta(hours=25)
    issued, rounds = 0, 0
    while issued < TENANTS and rounds < 200:  # the hourly job takes 100 drafts a call
        root.invoice_runs.scheduled(clock.at)
        issued += _drain(root)
        rounds += 1
    done = time.perf_counter()
    state = root.invoice_runs.get(run.id)
    last = root.invoice_store.get(invoice_id(ids[-1], PERIOD))
    return {
        "tenants": TENANTS,
        "drafts": state.invoices,
        "issued": issued,
        "draft_seconds": round(billed - started, 1),
        "finalize_seconds": round(done - billed, 1),
        "invoices_per_second": round(TENANTS / (done - started), 1),
        "last_number": last.number if last else None,
    }


def _requests_per_invoice() -> dict[str, Any]:
    from tollgate.adapters.models import ALL_MODELS
    from tollgate.domain.invoices import invoice_id
    from tollgate.wiring import Root
    from tollgate_dev.cost import DynamoCost

    out: dict[str, Any] = {}
    for charges in (1, 5, 20):
        for events in (10, 10_000_000):
            root = Root(clock=_Clock(AFTER))
            _setup(root, charges)
            tenant = f"c{charges}e{events}"
            _tenants(root, [tenant], f"p{charges}", events)
            cost = DynamoCost().attach(root.dynamodb)
            for model in ALL_MODELS:
                cost.attach(model._get_connection().connection.client)
            root.invoices.bill(tenant, PERIOD)
            bill = cost.total_requests
            cost.reset()
            root.invoices.finalize(invoice_id(tenant, PERIOD))
            out[f"{charges}_charges_{events}_events"] = {"bill": bill, "finalize": cost.total_requests}
    return out


def _render() -> dict[str, Any]:
    from tollgate.domain.invoice_build import Header, PeriodUsage, compute, document
    from tollgate.domain.plans import Plan
    from tollgate.domain.pricing import Charge, Model
    from tollgate.domain.records import Tenant
    from tollgate.wiring import Root

    charges = tuple(Charge(f"m{i}", Model.PER_UNIT, unit_amount=Decimal("0.001")) for i in range(20))
    plan = Plan("p", "P", (), None, START, START, base_fee=Decimal(29), charges=charges)
    usage = PeriodUsage({f"m{i}": Decimal(1000 * i) for i in range(20)})
    totals = compute(plan, {}, usage, period_start=START, period_end=AFTER)
    tenant = Tenant(id="acme", name="Acme", created_at=START, updated_at=START)
    doc = document(Header("in_x", "issued", START, AFTER, "TG-000001", AFTER, AFTER), tenant, plan, totals, None)
    root = Root()
    samples = []
    for _ in range(RENDERS):
        t = time.perf_counter()
        root.render_invoice(doc)
        samples.append(time.perf_counter() - t)
    return {"lines": len(doc["lines"]), "median_ms": round(statistics.median(samples) * 1000, 3)}


def run() -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.conftest import moto_stack

    with moto_stack():
        per_invoice = _requests_per_invoice()
    with moto_stack(), _no_rollback_copy():
        scale = _run_at_scale()
    return {"scale": scale, "requests_per_invoice": per_invoice, "render": _render()}


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    s, per, render = r["scale"], r["requests_per_invoice"], r["render"]
    flat = all(per[f"{c}_charges_10_events"] == per[f"{c}_charges_10000000_events"] for c in (1, 5, 20))
    grows = per["20_charges_10_events"]["bill"] > per["1_charges_10_events"]["bill"]
    return [
        (
            f"invoices/s, {s['tenants']:,} tenants, draft + finalize (moto in-process)",
            f"{s['invoices_per_second']} ({s['draft_seconds']} s + {s['finalize_seconds']} s)",
            "10,000 within the hour after period end",
            "yes"
            if s["tenants"] >= TARGET_TENANTS and s["draft_seconds"] + s["finalize_seconds"] < 3600
            else f"not measured at {TARGET_TENANTS:,} (moto)",
        ),
        (
            "DynamoDB requests per invoice (bill + finalize), 1 / 5 / 20 charges",
            " / ".join(
                f"{per[f'{c}_charges_10_events']['bill']}+{per[f'{c}_charges_10_events']['finalize']}"
                for c in (1, 5, 20)
            ),
            "grows with charges, not events",
            "yes" if flat and grows else "no",
        ),
        (
            "HTML render, 21-line invoice (median)",
            f"{render['median_ms']} ms",
            "< 50 ms",
            "yes" if render["median_ms"] < 50 else "no",
        ),
    ]
