"""One contract for the InvoiceStore port: the in-memory fake (tests/fakes/invoices.py) and the
DynamoDB adapter on the template's invoices table (its indexes and conditions): drafts, the
numbering, the sparse indexes, every filter combination of the list and its cursors, runs and
their outcomes in every order. Then the adapter under broken transactions - a connection error
or a server error before a transaction is sent, or after it committed with the answer lost, at
each attempt, with the caller retrying what raised: no gap, no duplicate, each outcome counted
once - and under cancellations that never end or that no retry can cure."""

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


# ---------------------------------------------------------------- more of the contract
def _all(store: Any, limit: int, **filters: Any) -> tuple[list[str], int]:
    """Every id the list gives for ``filters``, page after page, and how many pages it took."""
    out: list[str] = []
    cursor, pages = None, 0
    while True:
        items, cursor = store.list(cursor=cursor, limit=limit, **filters)
        pages += 1
        assert len(items) <= limit
        out += [i.id for i in items]
        if cursor is None:
            return out, pages
        assert pages < 50


def test_every_filter_combination_pages_through_exactly_its_invoices_newest_period_first(store):
    tenants, periods = ("acme", "beta", "kilo.x-1"), ("2025-12", "2026-10", "2026-11")
    stored = []
    for t in tenants:
        for p in periods:
            store.create_draft(draft(t, p))
            stored.append((t, p))
    for t, p in [("acme", "2026-10"), ("kilo.x-1", "2026-11"), ("beta", "2025-12")]:
        store.issue(invoice_id(t, p), "TG", make, now)
    status_of = {invoice_id(t, p): store.get(invoice_id(t, p)).status for t, p in stored}
    lk = {invoice_id(t, p): f"{p}#{t}#{invoice_id(t, p)}" for t, p in stored}
    for tenant in (None, "beta", "nobody"):
        for status in (None, InvoiceStatus.DRAFT, InvoiceStatus.ISSUED):
            for period in (None, "2026-10", "2030-01"):
                want = sorted(
                    (
                        invoice_id(t, p)
                        for t, p in stored
                        if tenant in (None, t) and period in (None, p) and status in (None, status_of[invoice_id(t, p)])
                    ),
                    key=lambda i: lk[i],
                    reverse=True,
                )
                for limit in (1, 2, 100):
                    got, _ = _all(store, limit, tenant_id=tenant, status=status, period=period)
                    assert got == want, (tenant, status, period, limit)


def test_a_cursor_is_good_for_its_own_list_only(store):
    for t in ("acme", "beta"):
        for p in ("2026-10", "2026-11"):
            store.create_draft(draft(t, p))
    filters: dict[str, Any] = {"tenant_id": "acme", "status": None, "period": None}
    _, cursor = store.list(limit=1, cursor=None, **filters)
    assert cursor is not None
    for other in (
        {"tenant_id": "beta", "status": None, "period": None},
        {"tenant_id": "acme", "status": InvoiceStatus.DRAFT, "period": None},
        {"tenant_id": "acme", "status": None, "period": "2026-10"},
        {"tenant_id": None, "status": None, "period": None},
    ):
        with pytest.raises(ValueError):
            store.list(limit=1, cursor=cursor, **other)
    for junk in ("!!!", "e30", "bnVsbA", "W10", "x" * 300, cursor[:-3]):  # not base64, {}, null, []
        with pytest.raises(ValueError):
            store.list(limit=1, cursor=junk, **filters)
    rest, _ = store.list(limit=10, cursor=cursor, **filters)
    assert [i.period for i in rest] == ["2026-10"]


def test_a_crafted_cursor_never_reaches_dynamodb(aws):
    """The adapter's cursor holds the filters and the last ``lk``; a crafted one that looks
    right is still checked, so DynamoDB never sees a start key the store did not build."""
    from tollgate.adapters import cursors

    store = new_root().invoice_store
    store.create_draft(draft("acme", "2026-11"))
    scope = ["acme", None, "2026-11"]
    good = f"2026-11#acme#{invoice_id('acme', '2026-11')}"
    for value in (
        {"f": scope, "lk": "junk"},
        {"f": scope, "lk": {"S": good}},
        {"f": scope, "lk": f"2026-10#acme#{invoice_id('acme', '2026-10')}"},  # another period
        {"f": scope, "lk": f"2026-11#beta#{invoice_id('beta', '2026-11')}"},  # another tenant's
        {"f": scope, "lk": good + "#x"},
        {"f": scope, "lk": good, "pk": {"S": "SEQ#TG"}},
        [scope, {"pk": {"S": "I#x"}}],  # the old cursor shape
    ):
        with pytest.raises(ValueError):
            store.list(tenant_id="acme", status=None, period="2026-11", limit=1, cursor=cursors.encode(value))
    items, _ = store.list(
        tenant_id="acme", status=None, period="2026-11", limit=1, cursor=cursors.encode({"f": scope, "lk": good})
    )
    assert items == []  # after the only invoice


def test_documents_keep_their_decimal_strings_and_refuse_floats(store):
    d = draft("acme").replaced(doc={"total": "0.10", "lines": [{"amount": "1E+2", "qty": 3}], "tax": None})
    assert store.create_draft(d)
    assert store.get(d.id).doc == {"total": "0.10", "lines": [{"amount": "1E+2", "qty": 3}], "tax": None}
    with pytest.raises(TypeError):
        store.create_draft(draft("beta").replaced(doc={"total": 0.1}))
    assert store.get(invoice_id("beta", "2026-11")) is None
    with pytest.raises(TypeError):
        store.replace_draft(d.replaced(doc={"lines": [{"amount": 1.5}]}), 1)
    with pytest.raises(TypeError):
        store.issue(d.id, "TG", lambda number, at: {"number": number, "total": 12.34}, now)
    got = store.get(d.id, consistent=True)
    assert (got.status, got.version, got.doc["total"]) == (InvoiceStatus.DRAFT, 1, "0.10")
    assert store.issue(d.id, "TG", make, now).number == "TG-000001"  # the refused issue took nothing


def test_issue_takes_nothing_when_make_fails_and_prefixes_number_apart(store):
    for t in ("a", "b", "c"):
        store.create_draft(draft(t))

    def broken(number: str, at: datetime) -> dict[str, Any]:
        raise RuntimeError("counters unreachable")

    with pytest.raises(RuntimeError):
        store.issue(invoice_id("a", "2026-11"), "TG", broken, now)
    assert store.get(invoice_id("a", "2026-11")).status is InvoiceStatus.DRAFT
    assert store.issue(invoice_id("a", "2026-11"), "TG", make, now).number == "TG-000001"
    assert store.issue(invoice_id("b", "2026-11"), "XY", make, now).number == "XY-000001"
    assert store.issue(invoice_id("c", "2026-11"), "TG", make, now).number == "TG-000002"
    issued = store.get(invoice_id("c", "2026-11"), consistent=True)
    assert issued.doc == make("TG-000002", now()) and issued.tenant_id == "c" and issued.currency == "EUR"
    assert issued.created_at == T0 and issued.updated_at == now()


def test_a_replaced_draft_stays_due_and_replace_needs_a_stored_draft(store):
    d = draft("acme", due=T0 + timedelta(hours=1))
    assert store.replace_draft(d, 0) is False and store.replace_draft(d, 1) is False  # nothing stored
    store.create_draft(d)
    later = T0 + timedelta(hours=5)
    assert store.replace_draft(d.replaced(finalize_after=later, doc={"total": "1.00"}), 1)
    assert store.drafts_due(T0 + timedelta(hours=2), 10) == []
    (due,) = store.drafts_due(later, 10)
    assert (due.version, due.finalize_after, due.doc) == (2, later, {"total": "1.00"})
    assert store.replace_draft(due.replaced(doc={"total": "2.00"}), 2) and store.get(d.id).version == 3


def test_the_sparse_indexes_give_the_oldest_first_within_the_limit(store):
    for i, t in enumerate(("c", "a", "b")):
        store.create_draft(draft(t, due=T0 + timedelta(hours=i)))
    assert [i.tenant_id for i in store.drafts_due(T0 + timedelta(hours=2), 10)] == ["c", "a", "b"]  # due == now
    assert [i.tenant_id for i in store.drafts_due(T0 + timedelta(hours=2), 2)] == ["c", "a"]
    for i, t in enumerate(("b", "c", "a")):
        store.issue(invoice_id(t, "2026-11"), "TG", make, lambda i=i: now() + timedelta(minutes=i))
    assert store.drafts_due(T0 + timedelta(days=9), 10) == []
    assert [i.tenant_id for i in store.undelivered(10)] == ["b", "c", "a"]
    assert [i.tenant_id for i in store.undelivered(1)] == ["b"]
    store.mark_delivered(invoice_id("c", "2026-11"))
    store.mark_delivered(invoice_id("c", "2026-11"))  # idempotent
    assert [i.tenant_id for i in store.undelivered(10)] == ["b", "a"]


def test_only_an_issued_invoice_is_marked_delivered(store):
    store.create_draft(draft("acme"))
    with pytest.raises(LookupError):
        store.mark_delivered(invoice_id("acme", "2026-11"))  # a draft
    with pytest.raises(LookupError):
        store.mark_delivered("in_missing")
    assert store.get(invoice_id("acme", "2026-11")).delivered is False


def test_a_run_keeps_what_it_was_created_with_and_a_missing_run_is_a_lookup_error(store):
    run = InvoiceRun(id="run_t", period="2026-11", created_at=T0, tenant_id="acme", expected=1)
    assert store.create_run(run)
    assert store.create_run(InvoiceRun(id="run_t", period="2026-10", created_at=T0)) is False
    assert store.get_run("run_t") == run
    with pytest.raises(LookupError):
        store.set_run_expected("run_missing", 3)
    with pytest.raises(LookupError):
        store.record_outcome("run_missing", "acme", "invoiced")
    with pytest.raises(ValueError):
        store.record_outcome("run_t", "acme", "done")
    assert store.get_run("run_missing") is None
    store.record_outcome("run_t", "acme", "invoiced")
    assert store.get_run("run_t", consistent=True).status.value == "done"


def test_run_outcomes_in_every_order(store):
    store.create_run(InvoiceRun(id="r", period="2026-11", created_at=T0))
    for tenant, outcomes in {
        "s": ["skipped", "failed", "invoiced", "skipped"],  # a success is final, even towards another success
        "f": ["failed", "skipped", "failed"],  # a failure replaced by a skip
        "ff": ["failed", "failed"],
        "i": ["invoiced", "skipped", "failed"],
    }.items():
        for o in outcomes:
            store.record_outcome("r", tenant, o, f"{tenant}: {o}")
    got = store.get_run("r", consistent=True)
    assert (got.invoices, got.skipped, got.failed) == (1, 2, 1)
    assert got.failures == [{"tenant_id": "ff", "error": "ff: failed"}]
    assert got.expected is None and got.status.value == "running"
    store.set_run_expected("r", 4)
    assert store.get_run("r", consistent=True).status.value == "done"


def test_a_run_keeps_at_most_ten_failures_but_counts_them_all(store):
    store.create_run(InvoiceRun(id="r", period="2026-11", created_at=T0))
    tenants = [f"t{i:02d}" for i in range(13)]
    for t in tenants:
        store.record_outcome("r", t, "failed", f"{t}: " + "x" * 500)
    got = store.get_run("r", consistent=True)
    assert got.failed == 13 and len(got.failures) == 10
    assert [f["tenant_id"] for f in got.failures] == tenants[:10]
    assert all(len(f["error"]) == 300 and f["error"].startswith(f["tenant_id"]) for f in got.failures)
    for t in tenants[:4]:  # four retries succeed: their errors go, their counts move
        store.record_outcome("r", t, "invoiced")
    store.record_outcome("r", tenants[12], "failed", "again")  # a repeat: still not noted
    got = store.get_run("r", consistent=True)
    assert (got.failed, got.invoices) == (9, 4)
    assert [f["tenant_id"] for f in got.failures] == tenants[4:10]
    store.record_outcome("r", "late", "failed", "a new failure: room again")
    assert {"tenant_id": "late", "error": "a new failure: room again"} in store.get_run("r", consistent=True).failures


# ---------------------------------------------------------------- faults at every numbering attempt
class _Faulty:
    """The store's client with chosen TransactWriteItems calls (1-based) broken. ``before``:
    a connection error, nothing sent; ``after``: sent (committed, or cancelled, as the table
    decides), then a connection error: the answer lost. ``500-before`` and ``500-after``: the
    same as an InternalServerError, which the adapter does not retry but raises to its caller.
    ``cancel`` answers with the given CancellationReasons, nothing sent."""

    def __init__(self, client: Any, faults: dict[int, str], reasons: list[str] | None = None) -> None:
        self._client, self.faults, self.reasons, self.calls = client, faults, reasons, 0
        self.fired: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        self.calls += 1
        fault = self.faults.get(self.calls, "")
        if fault:
            self.fired.append(self.calls)
        server_error = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "TransactWriteItems")
        if fault == "before":
            raise EndpointConnectionError(endpoint_url="https://dynamodb")
        if fault == "500-before":
            raise server_error
        if fault == "cancel" or self.reasons:
            error = {"Code": "TransactionCanceledException", "Message": "cancelled"}
            raise ClientError(
                {"Error": error, "CancellationReasons": [{"Code": r} for r in self.reasons or []]}, "TransactWriteItems"
            )
        answer = self._client.transact_write_items(**kwargs)
        if fault == "after":
            raise EndpointConnectionError(endpoint_url="https://dynamodb")
        if fault == "500-after":
            raise server_error
        return answer


def _until_done(call: Any, *args: Any) -> Any:
    """A caller that retries what raised (the queue's redelivery, an operator's second click)."""
    from botocore.exceptions import BotoCoreError, ClientError

    for _ in range(20):
        try:
            return call(*args)
        except (BotoCoreError, ClientError):
            continue
    raise AssertionError("never done")


def _faulty_store(faults: dict[int, str], reasons: list[str] | None = None) -> tuple[Any, Any, _Faulty]:
    from tollgate.adapters.invoices import DynamoInvoiceStore

    root = new_root()
    client = _Faulty(root.dynamodb, faults, reasons)
    return root, DynamoInvoiceStore(client, root.settings.invoices_table, sleep=lambda _: None), client


def _sequence(root: Any, prefix: str = "TG") -> int:
    item = root.dynamodb.get_item(
        TableName=root.settings.invoices_table, Key={"pk": {"S": f"SEQ#{prefix}"}}, ConsistentRead=True
    ).get("Item")
    return int(item["n"]["N"]) if item else 0


@pytest.mark.parametrize("kind", ["before", "after", "500-before", "500-after"])
@pytest.mark.parametrize("at", range(1, 7))
def test_a_fault_at_any_numbering_attempt_leaves_no_gap_and_no_duplicate(aws, kind, at):
    root, store, client = _faulty_store({at: kind, at + 2: kind})
    tenants = ["a", "b", "c", "d", "e", "f"]
    for t in tenants:
        store.create_draft(draft(t))
    made: list[str] = []

    def making(number: str, at_: datetime) -> dict[str, Any]:
        made.append(number)
        return make(number, at_)

    issued = [_until_done(store.issue, invoice_id(t, "2026-11"), "TG", making, now) for t in tenants]
    numbers = [f"TG-{n:06d}" for n in range(1, 7)]
    assert [i.number for i in issued] == numbers
    stored = [root.invoice_store.get(invoice_id(t, "2026-11"), consistent=True) for t in tenants]
    assert [(s.number, s.doc["number"], s.status) for s in stored] == [(n, n, InvoiceStatus.ISSUED) for n in numbers]
    assert _sequence(root) == 6 and at in client.fired
    # a fault before sending costs an attempt (a document made again, with the same number);
    # after the commit, the re-read finds the invoice issued: nothing made again
    assert len(made) == 6 + (len(client.fired) if kind.endswith("before") else 0)
    assert sorted(set(made)) == numbers


def test_faults_on_every_attempt_of_one_issue_then_its_success(aws):
    root, store, client = _faulty_store({1: "after", 2: "before", 3: "500-after", 4: "after", 6: "500-before"})
    for t in ("a", "b"):
        store.create_draft(draft(t))
    first = _until_done(store.issue, invoice_id("a", "2026-11"), "TG", make, now)
    second = _until_done(store.issue, invoice_id("b", "2026-11"), "TG", make, now)
    assert (first.number, second.number, _sequence(root)) == ("TG-000001", "TG-000002", 2)
    assert store.issue(invoice_id("a", "2026-11"), "TG", make, now).number == "TG-000001"


def test_a_cancellation_no_retry_can_cure_raises_at_once(aws):
    from botocore.exceptions import ClientError

    root, store, client = _faulty_store({}, reasons=["None", "ValidationError"])
    store.create_draft(draft("a"))
    with pytest.raises(ClientError):
        store.issue(invoice_id("a", "2026-11"), "TG", make, now)
    assert client.calls == 1 and _sequence(root) == 0
    assert store.get(invoice_id("a", "2026-11")).status is InvoiceStatus.DRAFT


def test_a_sequence_that_stays_contended_raises_issue_contended_having_taken_nothing(aws):
    from tollgate.adapters.invoices import ISSUE_ATTEMPTS
    from tollgate.services.ports import IssueContended, StoreBusy

    root, store, client = _faulty_store({}, reasons=["ConditionalCheckFailed", "None"])
    store.create_draft(draft("a"))
    with pytest.raises(IssueContended) as raised:
        store.issue(invoice_id("a", "2026-11"), "TG", make, now)
    assert isinstance(raised.value, StoreBusy) and client.calls == ISSUE_ATTEMPTS
    assert _sequence(root) == 0 and store.get(invoice_id("a", "2026-11")).status is InvoiceStatus.DRAFT


@pytest.mark.parametrize("kind", ["before", "after", "500-before", "500-after"])
@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_fault_when_recording_an_outcome_counts_it_once(aws, kind, at):
    root, store, _ = _faulty_store({at: kind})
    store.create_run(InvoiceRun(id="r", period="2026-11", created_at=T0))
    for tenant, outcome in [("a", "failed"), ("a", "invoiced"), ("b", "skipped"), ("c", "failed")]:
        _until_done(store.record_outcome, "r", tenant, outcome, f"{tenant} broke")
    got = store.get_run("r", consistent=True)
    assert (got.invoices, got.skipped, got.failed) == (1, 1, 1)
    assert got.failures == [{"tenant_id": "c", "error": "c broke"}]


def test_an_outcome_that_stays_contended_raises_store_busy_having_recorded_nothing(aws):
    from tollgate.adapters.invoices import OUTCOME_ATTEMPTS
    from tollgate.services.ports import StoreBusy

    root, store, client = _faulty_store({}, reasons=["None", "TransactionConflict"])
    root.invoice_store.create_run(InvoiceRun(id="r", period="2026-11", created_at=T0))
    with pytest.raises(StoreBusy):
        store.record_outcome("r", "a", "invoiced")
    assert client.calls == OUTCOME_ATTEMPTS
    assert root.invoice_store.get_run("r", consistent=True).invoices == 0


def test_the_fake_breaks_the_numbering_on_either_side_of_its_commit_like_the_table():
    store = FakeInvoiceStore()
    for t in ("a", "b"):
        store.create_draft(draft(t))

    def lost() -> None:
        raise ConnectionError("no answer")

    store.before_issue = lost
    with pytest.raises(ConnectionError):
        store.issue(invoice_id("a", "2026-11"), "TG", make, now)  # before: nothing taken
    assert store.sequences == {} and store.get(invoice_id("a", "2026-11")).status is InvoiceStatus.DRAFT
    store.before_issue, store.after_issue = None, lost
    with pytest.raises(ConnectionError):
        store.issue(invoice_id("a", "2026-11"), "TG", make, now)  # after: committed, answer lost
    store.after_issue = None
    assert store.issue(invoice_id("a", "2026-11"), "TG", make, now).number == "TG-000001"
    assert store.issue(invoice_id("b", "2026-11"), "TG", make, now).number == "TG-000002"
    assert store.sequences == {"TG": 2}


def test_a_late_fee_line_is_charged_once_by_the_issue_that_carries_it(store):
    source = _issued(store, "acme")
    for period in ("2026-12", "2027-01"):
        store.create_draft(draft("acme", period))

    def charging(number: str, at: datetime) -> dict[str, Any]:
        fee = (
            []
            if store.late_fees_charged([source.id])
            else [{"type": "late_fee", "invoice_id": source.id, "amount": "1.00"}]
        )
        return {**make(number, at), "lines": fee}

    first = store.issue(invoice_id("acme", "2026-12"), "TG", charging, now)
    second = store.issue(invoice_id("acme", "2027-01"), "TG", charging, now)
    assert [len(i.doc["lines"]) for i in (first, second)] == [1, 0]
    assert store.late_fees_charged([source.id, first.id]) == {source.id}


def test_an_issue_whose_late_fee_was_charged_meanwhile_recomputes_without_it(store):
    source = _issued(store, "acme")
    for period in ("2026-12", "2027-01"):
        store.create_draft(draft("acme", period))
    stale = {"calls": 0}

    def charges_blindly_once(number: str, at: datetime) -> dict[str, Any]:
        stale["calls"] += 1
        if stale["calls"] == 1:  # read before the other invoice charged it
            store.issue(invoice_id("acme", "2027-01"), "TG", with_fee, now)
            return with_fee(number, at)
        return {**make(number, at), "lines": []}

    def with_fee(number: str, at: datetime) -> dict[str, Any]:
        return {**make(number, at), "lines": [{"type": "late_fee", "invoice_id": source.id, "amount": "1.00"}]}

    late = store.issue(invoice_id("acme", "2026-12"), "TG", charges_blindly_once, now)
    assert late.doc["lines"] == [] and stale["calls"] == 2
    assert store.late_fees_charged([source.id]) == {source.id}
