"""Invoice runs on moto with the real consumer, queue and tables:

- tenants at the ends of the zones (Pacific/Kiritimati, UTC+14, billed in JPY; Pacific/
  Pago_Pago, UTC-11, billed in KWD) are billed exactly the events of their own local month,
  with each currency's minor units;
- a DynamoDB fault at every call of the run (sent or not, the answer lost), each message
  redelivered until it is handled, leaves one invoice per tenant and period, the run's counts
  exact, and consecutive numbers once finalized."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import EndpointConnectionError

from tests.integration.moto_world import empty_tables, fresh_aws, module_aws  # noqa: F401 - fixtures

NOW = datetime(2026, 12, 2, tzinfo=UTC)  # November has ended in every zone


class _Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


def _root(clock: _Clock | None = None) -> Any:
    from tollgate.wiring import Root

    return Root(clock=clock or _Clock())


def _count(root: Any, tenant: str, zone: str, times: list[datetime]) -> None:
    """Events of the count meter ``calls`` through the real consumer."""
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.wire.usage_message import encode

    message = UsageMessage(
        tenant=tenant,
        timezone=zone,
        meters={"calls": MeterSpec("calls", Aggregation.COUNT)},
        events=[
            UsageEvent(id=f"{tenant}-{i}", meter="calls", time=format_time(t), value="1") for i, t in enumerate(times)
        ],
    )
    assert not root.count_usage.count_messages([(str(uuid.uuid4()), encode(message))]).failed


def _drain(root: Any, handle: Any = None) -> int:
    sqs, url, handled = root.sqs, root.settings.invoice_queue_url, 0
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return handled
        for m in got:
            (handle or root.invoice_runs.handle)(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            handled += 1


def _setup(root: Any) -> None:
    from tollgate.domain.meters import Aggregation

    root.meters.create_meter({"key": "calls", "name": "Calls", "aggregation": Aggregation.COUNT})
    charge = {"meter": "calls", "model": "per_unit"}
    root.plans.put_plan("yen", "Yen", [], None, actor="t", currency="JPY", charges=[{**charge, "unit_amount": "3.5"}])
    root.plans.put_plan(
        "dinar", "Dinar", [], None, actor="t", currency="KWD", charges=[{**charge, "unit_amount": "0.0125"}]
    )


def test_the_extreme_zones_bill_their_own_local_month_in_their_own_minor_units(fresh_aws):
    from tollgate.domain.invoices import invoice_id

    root = _root()
    _setup(root)
    for tenant, zone, plan, currency in (
        ("kiri", "Pacific/Kiritimati", "yen", "JPY"),
        ("pago", "Pacific/Pago_Pago", "dinar", "KWD"),
    ):
        root.tenants.create_tenant(
            {"id": tenant, "name": tenant, "timezone": zone, "plan": plan, "currency": currency}, actor="t"
        )
        tz = ZoneInfo(zone)
        november = [datetime(2026, 11, 1, tzinfo=tz), datetime(2026, 11, 30, 23, 59, 59, tzinfo=tz)] * 1
        november.append(datetime(2026, 11, 15, 12, tzinfo=tz))
        outside = [datetime(2026, 10, 31, 23, 59, 59, tzinfo=tz), datetime(2026, 12, 1, tzinfo=tz)]
        _count(root, tenant, zone, november + outside)
    run = root.invoice_runs.start("2026-11")
    _drain(root)
    assert (root.invoice_runs.get(run.id).invoices, root.invoice_runs.get(run.id).expected) == (2, 2)
    kiri = root.invoice_store.get(invoice_id("kiri", "2026-11")).doc
    pago = root.invoice_store.get(invoice_id("pago", "2026-11")).doc
    # 3 events each: 3 x 3.5 = 10.5 -> 11 JPY (half up, no minor unit); 3 x 0.0125 = 0.0375 -> 0.038 KWD
    assert (kiri["lines"][0]["quantity"], kiri["total"], kiri["currency"]) == ("3", "11", "JPY")
    assert (pago["lines"][0]["quantity"], pago["total"], pago["currency"]) == ("3", "0.038", "KWD")
    assert kiri["period"] == {"start": "2026-11-01T00:00:00+14:00", "end": "2026-12-01T00:00:00+14:00"}
    assert pago["period"] == {"start": "2026-11-01T00:00:00-11:00", "end": "2026-12-01T00:00:00-11:00"}


class _Faulty:
    """A DynamoDB client whose ``fail_at``-th call fails: before it is sent, or after DynamoDB
    did it (the answer lost)."""

    def __init__(self, client: Any, fail_at: int, after: bool) -> None:
        self._client, self.fail_at, self.after, self.calls = client, fail_at, after, 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target) or name.startswith("_") or name in ("meta", "exceptions"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.fail_at and not self.after:
                raise EndpointConnectionError(endpoint_url="https://dynamodb")
            answer = target(*args, **kwargs)
            if self.calls == self.fail_at:
                raise EndpointConnectionError(endpoint_url="https://dynamodb")
            return answer

        return call


TENANTS = ["a", "b", "c"]
CALLS = 44  # the invoice store's calls in a clean run (test_the_clean_run_... holds it)


@pytest.fixture(scope="module")
def counted(module_aws) -> Any:
    """The catalog and November's usage, once for the module; each test empties only the
    invoices and notifications tables."""
    empty_tables(module_aws.tables)  # after the tests on fresh_aws
    root = _root()
    _setup(root)
    for t in TENANTS:
        root.tenants.create_tenant({"id": t, "name": t, "plan": "yen", "currency": "JPY"}, actor="t")
        _count(root, t, "UTC", [datetime(2026, 11, 10, tzinfo=UTC)])
    return module_aws


@pytest.fixture
def fresh_invoices(counted) -> Any:
    tables = counted.tables
    empty_tables({k: v for k, v in tables.items() if k in ("InvoicesTable", "NotificationsTable")})
    root = _root()
    _drain(root, lambda _: None)  # what an earlier test left
    return counted


def _run_with_fault(fail_at: int, after: bool) -> tuple[Any, str, int]:
    from tollgate.adapters.invoices import DynamoInvoiceStore
    from tollgate.domain.invoices import invoice_id

    root = _root()
    faulty = _Faulty(root.dynamodb, fail_at, after)
    root.__dict__["invoice_store"] = DynamoInvoiceStore(faulty, root.settings.invoices_table, sleep=lambda _: None)
    run_id = None
    for _ in range(5):  # the API's retry of POST /v1/invoice-runs
        try:
            run_id = root.invoice_runs.start("2026-11").id
            break
        except EndpointConnectionError:
            continue
    assert run_id is not None

    def redelivered(message: dict[str, Any]) -> None:
        for _ in range(5):  # SQS redelivers until the message is handled
            try:
                root.invoice_runs.handle(message)
                return
            except EndpointConnectionError:
                continue
        raise AssertionError("not handled after 5 deliveries")

    _drain(root, redelivered)
    root.__dict__["clock"].at = NOW + timedelta(days=2)  # past the grace
    for inv in TENANTS:
        for _ in range(5):
            try:
                root.invoices.finalize(invoice_id(inv, "2026-11"))
                break
            except EndpointConnectionError:
                continue
    return root, run_id, faulty.calls


def _check(run_id: str) -> None:
    from tollgate.domain.invoices import invoice_id

    root = _root()  # unbroken

    items, _ = root.invoice_store.list(tenant_id=None, status=None, period="2026-11", limit=100, cursor=None)
    assert sorted(i.tenant_id for i in items) == TENANTS  # one invoice per tenant and period
    run = root.invoice_store.get_run(run_id, consistent=True)
    assert (run.expected, run.invoices, run.failed, run.skipped) == (3, 3, 0, 0)
    numbers = sorted(root.invoice_store.get(invoice_id(t, "2026-11")).number for t in TENANTS)
    assert numbers == ["TG-000001", "TG-000002", "TG-000003"]


def test_the_clean_run_bills_and_numbers_every_tenant(fresh_invoices):
    _, run_id, calls = _run_with_fault(0, after=False)
    _check(run_id)
    assert calls == CALLS  # the campaign below breaks each of them


@pytest.mark.parametrize("after", [False, True], ids=["not-sent", "answer-lost"])
@pytest.mark.parametrize("fail_at", range(1, CALLS + 1))
def test_a_fault_at_any_call_of_the_run_leaves_one_invoice_per_tenant_and_no_gap(fresh_invoices, fail_at, after):
    _, run_id, _ = _run_with_fault(fail_at, after)
    _check(run_id)
