"""One contract for the InvoiceStore port: the in-memory fake (tests/fakes/invoices.py) and the
DynamoDB adapter on the template's invoices table (its indexes and conditions); then the
adapter's numbering under a broken transaction (before it is sent, and after it committed
with the answer lost): no gap, no duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from tests.conftest import new_root
from tests.fakes.invoices import FakeInvoiceStore
from tollgate.domain.invoices import InvoiceRun, InvoiceStatus, StoredInvoice, invoice_id

T0 = datetime(2026, 12, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["fake", "aws"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeInvoiceStore()
        return
    request.getfixturevalue("aws")
    yield new_root().invoice_store


def draft(tenant: str, period: str = "2026-11", total: str = "10.00", due: datetime | None = None) -> StoredInvoice:
    inv_id = invoice_id(tenant, period)
    return StoredInvoice(
        id=inv_id,
        tenant_id=tenant,
        period=period,
        status=InvoiceStatus.DRAFT,
        currency="EUR",
        doc={"id": inv_id, "total": total, "lines": [{"amount": total}]},
        created_at=T0,
        updated_at=T0,
        finalize_after=due or T0 + timedelta(hours=24),
    )


def make(number: str, at: datetime) -> dict[str, Any]:
    return {"number": number, "issued_at": at.isoformat(), "total": "12.34"}


def now() -> datetime:
    return T0 + timedelta(days=1)


def test_a_draft_is_created_once_and_replaced_only_at_its_version(store):
    d = draft("acme")
    assert store.create_draft(d) is True
    assert store.create_draft(draft("acme", total="99.00")) is False
    assert store.get(d.id).doc["total"] == "10.00"
    assert store.replace_draft(d.replaced(doc={"total": "11.00"}), 1) is True
    assert store.replace_draft(d.replaced(doc={"total": "12.00"}), 1) is False  # stale version
    got = store.get(d.id, consistent=True)
    assert (got.doc, got.version, got.status) == ({"total": "11.00"}, 2, InvoiceStatus.DRAFT)
    assert store.get("in_missing") is None


def test_issue_takes_the_next_number_once_and_an_issued_invoice_never_changes(store):
    ids = []
    for tenant in ("a", "b", "c"):
        store.create_draft(draft(tenant))
        ids.append(invoice_id(tenant, "2026-11"))
    numbers = [store.issue(i, "TG", make, now).number for i in ids]
    assert numbers == ["TG-000001", "TG-000002", "TG-000003"]
    again = store.issue(ids[0], "TG", make, now)  # idempotent: no number taken
    assert again.number == "TG-000001" and again.doc["number"] == "TG-000001"
    assert store.issue(store.create_draft(draft("d")) and invoice_id("d", "2026-11"), "TG", make, now).number == (
        "TG-000004"
    )
    issued = store.get(ids[1])
    assert (issued.status, issued.issued_at, issued.finalize_after, issued.delivered) == (
        InvoiceStatus.ISSUED,
        now(),
        None,
        False,
    )
    assert store.replace_draft(issued.replaced(doc={"total": "0"}), issued.version) is False
    assert store.issue(ids[2], "OTHER", make, now).number == "TG-000003"  # issued: kept as it is
    with pytest.raises(LookupError):
        store.issue("in_missing", "TG", make, now)


def test_drafts_due_and_undelivered_are_the_sparse_indexes(store):
    store.create_draft(draft("early", due=T0 + timedelta(hours=1)))
    store.create_draft(draft("late", due=T0 + timedelta(hours=30)))
    assert [i.tenant_id for i in store.drafts_due(T0 + timedelta(hours=2), 10)] == ["early"]
    assert {i.tenant_id for i in store.drafts_due(T0 + timedelta(hours=31), 10)} == {"early", "late"}
    store.issue(invoice_id("early", "2026-11"), "TG", make, now)
    assert [i.tenant_id for i in store.drafts_due(T0 + timedelta(hours=31), 10)] == ["late"]
    assert [i.tenant_id for i in store.undelivered(10)] == ["early"]
    store.mark_delivered(invoice_id("early", "2026-11"))
    assert store.undelivered(10) == [] and store.get(invoice_id("early", "2026-11")).delivered
    for n in range(5):
        store.create_draft(draft(f"more{n}", due=T0))
    assert len(store.drafts_due(T0 + timedelta(hours=31), 3)) == 3  # the limit, across pages
    assert len(store.drafts_due(T0 + timedelta(hours=31), 100)) == 6


def test_lists_filter_by_tenant_status_and_period_newest_period_first_in_pages(store):
    for tenant in ("acme", "beta"):
        for period in ("2026-09", "2026-10", "2026-11"):
            store.create_draft(draft(tenant, period))
    store.issue(invoice_id("acme", "2026-10"), "TG", make, now)

    def ids(**filters: Any) -> list[tuple[str, str]]:
        items, cursor, out = None, None, []
        while items is None or cursor:
            items, cursor = store.list(
                limit=2, cursor=cursor, **{"tenant_id": None, "status": None, "period": None, **filters}
            )
            out += [(i.tenant_id, i.period) for i in items]
        return out

    assert ids(tenant_id="acme") == [("acme", "2026-11"), ("acme", "2026-10"), ("acme", "2026-09")]
    assert ids(tenant_id="acme", status=InvoiceStatus.DRAFT) == [("acme", "2026-11"), ("acme", "2026-09")]
    assert ids(status=InvoiceStatus.ISSUED) == [("acme", "2026-10")]
    assert ids(period="2026-10") == [("beta", "2026-10"), ("acme", "2026-10")]
    assert ids(tenant_id="beta", period="2026-09") == [("beta", "2026-09")]
    assert len(ids()) == 6 and ids()[0][1] == "2026-11"
    _, cursor = store.list(tenant_id="acme", status=None, period=None, limit=1, cursor=None)
    with pytest.raises(ValueError):
        store.list(tenant_id="beta", status=None, period=None, limit=1, cursor=cursor)  # another list's cursor


def test_run_outcomes_count_once_and_a_success_replaces_a_failure_never_the_reverse(store):
    run = InvoiceRun(id="run_1", period="2026-11", created_at=T0)
    assert store.create_run(run) is True and store.create_run(run) is False
    store.set_run_expected("run_1", 3)
    store.record_outcome("run_1", "a", "invoiced")
    store.record_outcome("run_1", "a", "invoiced")  # redelivered
    store.record_outcome("run_1", "b", "failed", "Boom: no")
    store.record_outcome("run_1", "b", "failed", "Boom: again")
    got = store.get_run("run_1", consistent=True)
    assert (got.expected, got.invoices, got.failed, got.status.value) == (3, 1, 1, "running")
    assert got.failures == [{"tenant_id": "b", "error": "Boom: no"}]
    store.record_outcome("run_1", "b", "invoiced")  # the retry succeeded
    store.record_outcome("run_1", "a", "failed", "late failure of a success")  # ignored
    store.record_outcome("run_1", "c", "skipped")
    done = store.get_run("run_1", consistent=True)
    assert (done.invoices, done.skipped, done.failed, done.failures, done.status.value) == (2, 1, 0, [], "done")
    assert store.get_run("run_missing") is None


class _Broken:
    """The store's client with TransactWriteItems broken: ``before`` raises without sending;
    ``after`` sends (the transaction commits) and then raises, as a lost response does."""

    def __init__(self, client: Any, plan: list[str]) -> None:
        self._client, self.plan = client, plan

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        fault = self.plan.pop(0) if self.plan else None
        if fault == "before":
            raise EndpointConnectionError(endpoint_url="https://dynamodb")
        answer = self._client.transact_write_items(**kwargs)
        if fault == "after":
            raise EndpointConnectionError(endpoint_url="https://dynamodb")
        return answer


@pytest.mark.parametrize("faults", [["before"], ["after"], ["before", "after", "before"], ["after", "after"]])
def test_a_broken_numbering_transaction_leaves_no_gap_and_no_duplicate(aws, faults):
    from tollgate.adapters.invoices import DynamoInvoiceStore

    root = new_root()
    store = DynamoInvoiceStore(_Broken(root.dynamodb, list(faults)), root.settings.invoices_table, sleep=lambda _: None)
    tenants = ["a", "b", "c", "d"]
    for t in tenants:
        store.create_draft(draft(t))
    issued = [store.issue(invoice_id(t, "2026-11"), "TG", make, now) for t in tenants]
    assert [i.number for i in issued] == ["TG-000001", "TG-000002", "TG-000003", "TG-000004"]
    stored = [root.invoice_store.get(invoice_id(t, "2026-11"), consistent=True) for t in tenants]
    assert [i.number for i in stored] == [i.number for i in issued] and all(i.doc["number"] == i.number for i in stored)
    seq = root.dynamodb.get_item(TableName=root.settings.invoices_table, Key={"pk": {"S": "SEQ#TG"}})["Item"]
    assert seq["n"]["N"] == "4"


def _issued(store: Any, tenant: str) -> StoredInvoice:
    store.create_draft(draft(tenant))

    def issued_doc(number: str, at: datetime) -> dict[str, Any]:
        return {**make(number, at), "status": "issued", "due_at": (at + timedelta(days=30)).isoformat()}

    return store.issue(invoice_id(tenant, "2026-11"), "TG", issued_doc, now)


def _entry(inv: StoredInvoice, action: str) -> Any:
    from tollgate.domain.audit import AuditEntry, tenant_subject

    return AuditEntry(tenant_subject(inv.tenant_id), now(), "key_admin", action, {"v": inv.version}, {}, "test")


def test_a_transition_holds_at_the_version_read_and_a_marker_is_used_once(store, request):
    inv = _issued(store, "acme")
    paid = {**inv.doc, "status": "paid"}
    assert store.transition(inv, paid, InvoiceStatus.PAID, _entry(inv, "invoice.pay"), marker="ch_1").value == "done"
    stale = store.transition(inv, {**inv.doc, "status": "void"}, InvoiceStatus.VOID, _entry(inv, "invoice.void"))
    assert stale.value == "stale"  # read before the payment: the version moved
    now_ = store.get(inv.id, consistent=True)
    assert (now_.status, now_.version, now_.doc["status"]) == (InvoiceStatus.PAID, inv.version + 1, "paid")
    again = store.transition(now_, paid, InvoiceStatus.PAID, _entry(now_, "invoice.pay"), marker="ch_1")
    assert again.value == "repeated" and store.get(inv.id, consistent=True).version == inv.version + 1
    if request.node.callspec.params["store"] == "aws":  # the audit entry went with the move, once
        entries, _ = new_root().audit.list_entries("tenant#acme", 10, None)
        assert [e.action for e in entries] == ["invoice.pay"]


def test_open_due_lists_issued_and_overdue_invoices_by_due_date_until_paid(store):
    first, second = _issued(store, "a"), _issued(store, "b")
    due = datetime.fromisoformat(first.doc["due_at"])
    assert sorted(i.tenant_id for i in store.open_due(due + timedelta(seconds=1), 10)) == ["a", "b"]
    assert store.open_due(due - timedelta(days=1), 10) == []
    overdue = {**first.doc, "status": "overdue"}
    store.transition(first, overdue, InvoiceStatus.OVERDUE, _entry(first, "invoice.overdue"))
    listed = {i.tenant_id: i.status for i in store.open_due(due + timedelta(seconds=1), 10)}
    assert listed == {"a": InvoiceStatus.OVERDUE, "b": InvoiceStatus.ISSUED}
    store.transition(second, {**second.doc, "status": "paid"}, InvoiceStatus.PAID, _entry(second, "invoice.pay"))
    assert [i.tenant_id for i in store.open_due(due + timedelta(days=1), 10)] == ["a"]
