"""Finalizes racing for numbers, against moto in server mode (transactions isolated as
DynamoDB isolates them): 20 execution environments each finalize one of 20 drafts at once,
and the numbers are exactly TG-000001 to TG-000020, one each, with one invoice.ready each;
8 environments finalizing the same draft take one number. The store alone: 30 environments
issuing 10 drafts (3 each) at once, and 16 recording the outcomes of the same run's tenants
at once (redeliveries racing, failures racing successes): each counted once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.conftest import template_on

pytestmark = pytest.mark.server
NOW = datetime(2026, 12, 5, tzinfo=UTC)


class _Clock:
    def now(self) -> datetime:
        return NOW


def _root() -> Any:
    from tollgate.wiring import Root

    return Root(clock=_Clock())


@pytest.fixture
def world(moto_server: str) -> Iterator[Any]:
    with template_on(moto_server):
        root = _root()
        root.plans.put_plan("pro", "Pro", [], None, actor="t", base_fee=Decimal(10))
        for i in range(20):
            root.tenants.create_tenant({"id": f"t{i:02d}", "name": f"T{i}", "plan": "pro"}, actor="t")
            assert root.invoices.bill(f"t{i:02d}", "2026-11") == "invoiced"
        yield root


def _race(n: int, work: Any) -> list[Any]:
    roots = [_root() for _ in range(n)]  # one execution environment each
    barrier = threading.Barrier(n)

    def one(i: int) -> Any:
        barrier.wait()
        return work(roots[i], i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_twenty_concurrent_finalizes_number_consecutively_each_once(world):
    from tollgate.domain.invoices import invoice_id

    issued = _race(20, lambda root, i: root.invoices.finalize(invoice_id(f"t{i:02d}", "2026-11")))
    assert sorted(inv.number for inv in issued) == [f"TG-{n:06d}" for n in range(1, 21)]
    stored = [world.invoice_store.get(invoice_id(f"t{i:02d}", "2026-11"), consistent=True) for i in range(20)]
    assert [s.number for s in stored] == [i.number for i in issued] and all(s.delivered for s in stored)
    seq = world.dynamodb.get_item(TableName=world.settings.invoices_table, Key={"pk": {"S": "SEQ#TG"}})["Item"]
    assert seq["n"]["N"] == "20"
    ready = world.alert_store.list(None, unread=None, type_="invoice.ready", limit=100, cursor=None)
    assert sorted(d["number"] for d in ready.items) == [f"TG-{n:06d}" for n in range(1, 21)]


def test_eight_finalizes_of_one_draft_take_one_number(world):
    from tollgate.domain.invoices import invoice_id

    issued = _race(8, lambda root, _: root.invoices.finalize(invoice_id("t07", "2026-11")))
    assert {inv.number for inv in issued} == {"TG-000001"}
    seq = world.dynamodb.get_item(TableName=world.settings.invoices_table, Key={"pk": {"S": "SEQ#TG"}})["Item"]
    assert seq["n"]["N"] == "1"


@pytest.fixture
def tables(moto_server: str) -> Iterator[None]:
    """The template's resources on a fresh moto server, and its environment; no data."""
    with template_on(moto_server):
        yield


def _draft(tenant: str) -> Any:
    from tollgate.domain.invoices import InvoiceStatus, StoredInvoice, invoice_id

    inv_id = invoice_id(tenant, "2026-11")
    doc = {"id": inv_id, "total": "10.00"}
    return StoredInvoice(inv_id, tenant, "2026-11", InvoiceStatus.DRAFT, "EUR", doc, NOW, NOW, finalize_after=NOW)


def test_thirty_issues_of_ten_drafts_at_once_number_each_draft_once(tables):
    from tollgate.domain.invoices import InvoiceStatus

    drafts = [_draft(f"t{i}") for i in range(10)]
    for d in drafts:
        assert _root().invoice_store.create_draft(d)

    def issue(root: Any, i: int) -> tuple[str, str | None]:
        def make(number: str, at: datetime) -> dict[str, Any]:
            return {"id": drafts[i % 10].id, "number": number, "issued_at": at.isoformat(), "total": "10.00"}

        inv = root.invoice_store.issue(drafts[i % 10].id, "TG", make, lambda: NOW)
        return inv.id, inv.number

    results = _race(30, issue)
    by_draft: dict[str, set[str | None]] = {}
    for inv_id, number in results:
        by_draft.setdefault(inv_id, set()).add(number)
    assert all(len(numbers) == 1 for numbers in by_draft.values()) and len(by_draft) == 10
    numbers = sorted(n for ns in by_draft.values() for n in ns if n)
    assert numbers == [f"TG-{n:06d}" for n in range(1, 11)]
    store = _root().invoice_store
    stored = [store.get(d.id, consistent=True) for d in drafts]
    assert all(s.status is InvoiceStatus.ISSUED and s.doc["number"] == s.number for s in stored)
    assert sorted(s.number for s in stored) == numbers
    assert [i.id for i in store.undelivered(100)] and store.drafts_due(NOW, 100) == []
    seq = store.client.get_item(TableName=store.table, Key={"pk": {"S": "SEQ#TG"}}, ConsistentRead=True)["Item"]
    assert seq["n"]["N"] == "10"


def test_racing_outcomes_of_one_run_count_each_tenant_once(tables):
    from tollgate.domain.invoices import InvoiceRun

    failing = [f"f{i:02d}" for i in range(12)]
    assert _root().invoice_store.create_run(InvoiceRun(id="run_race", period="2026-11", created_at=NOW, expected=15))

    def deliver(root: Any, i: int) -> None:
        store = root.invoice_store
        store.record_outcome("run_race", "a", "invoiced")  # every redelivery of one success
        store.record_outcome("run_race", "b", "failed" if i % 2 else "invoiced", f"b broke in {i}")
        store.record_outcome("run_race", "c", "skipped")
        for t in failing[i % 4 :: 4]:  # each failing tenant by 4 environments
            store.record_outcome("run_race", t, "failed", f"{t} broke")

    _race(16, deliver)
    run = _root().invoice_store.get_run("run_race", consistent=True)
    assert (run.invoices, run.skipped, run.failed, run.status.value) == (2, 1, 12, "done")
    assert len(run.failures) == 10 and {f["tenant_id"] for f in run.failures} <= set(failing)
    assert all(f["error"] == f"{f['tenant_id']} broke" for f in run.failures)
