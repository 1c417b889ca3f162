"""``InvoiceStore`` in memory, with the adapter's semantics (tests/integration/
test_invoice_store.py runs the same contract on both), thread-safe.

Fault injection: ``before_issue`` and ``after_issue`` let a test break the numbering
transaction on either side of its commit (after: committed, the caller sees the error, as a
lost answer); ``faults`` (``tests.fakes.alerts.CallFaults``) makes chosen calls of the store
raise before they do anything."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from tollgate.domain.audit import AuditEntry
from tollgate.domain.invoices import InvoiceRun, InvoiceStatus, StoredInvoice, TransitionResult, doc_text, format_number

from ._paging import page
from .alerts import CallFaults

MAX_FAILURES = 10
MAX_ERROR = 300
OUTCOMES = ("invoiced", "skipped", "failed")


def _stored(inv: StoredInvoice) -> StoredInvoice:
    """What the table would keep: the document through its JSON text (a copy; a float refused)."""
    return replace(inv, doc=json.loads(doc_text(inv.doc)))


class FakeInvoiceStore:
    def __init__(self, faults: CallFaults | None = None) -> None:
        self.invoices: dict[str, StoredInvoice] = {}
        self.sequences: dict[str, int] = {}
        self.runs: dict[str, InvoiceRun] = {}
        self.outcomes: dict[tuple[str, str], str] = {}
        self.markers: set[str] = set()
        self.charged: dict[str, str] = {}  # late fees: source invoice id -> the number that charged it
        self.audit: list[AuditEntry] = []
        self.before_issue: Callable[[], None] | None = None
        self.after_issue: Callable[[], None] | None = None
        self.faults = faults or CallFaults()
        self._lock = threading.RLock()

    def _call(self, what: str) -> None:
        with self._lock:
            self.faults.check(what)

    def get(self, invoice_id: str, consistent: bool = False) -> StoredInvoice | None:
        self._call("get")
        return self.invoices.get(invoice_id)

    def create_draft(self, inv: StoredInvoice) -> bool:
        self._call("create_draft")
        stored = _stored(inv)
        with self._lock:
            if inv.id in self.invoices:
                return False
            self.invoices[inv.id] = stored
            return True

    def replace_draft(self, inv: StoredInvoice, expected_version: int) -> bool:
        self._call("replace_draft")
        new = _stored(replace(inv, version=expected_version + 1, status=InvoiceStatus.DRAFT))
        with self._lock:
            stored = self.invoices.get(inv.id)
            if stored is None or stored.status is not InvoiceStatus.DRAFT or stored.version != expected_version:
                return False
            self.invoices[inv.id] = new
            return True

    def issue(
        self,
        invoice_id: str,
        prefix: str,
        make: Callable[[str, datetime], dict[str, Any]],
        now: Callable[[], datetime],
        audit: Callable[[str, datetime], AuditEntry] | None = None,
    ) -> StoredInvoice:
        self._call("issue")
        while True:
            stored = self.invoices.get(invoice_id)
            if stored is None:
                raise LookupError(f"invoice {invoice_id!r} does not exist")
            if stored.status is not InvoiceStatus.DRAFT:
                return stored
            seq = self.sequences.get(prefix, 0)
            number, at = format_number(prefix, seq + 1), now()
            doc = json.loads(doc_text(make(number, at)))
            if self.before_issue is not None:
                self.before_issue()
            with self._lock:
                current = self.invoices[invoice_id]
                if current.status is not InvoiceStatus.DRAFT:
                    return current
                if self.sequences.get(prefix, 0) != seq:
                    continue  # lost the race: the next number
                fees = [line["invoice_id"] for line in doc.get("lines") or [] if line.get("type") == "late_fee"]
                if any(f in self.charged for f in fees):
                    continue  # charged by another invoice meanwhile: recompute without it
                self.charged.update(dict.fromkeys(fees, number))
                if audit is not None:
                    self.audit.append(audit(number, at))
                self.sequences[prefix] = seq + 1
                issued = replace(
                    current,
                    status=InvoiceStatus.ISSUED,
                    number=number,
                    issued_at=at,
                    doc=doc,
                    finalize_after=None,
                    updated_at=at,
                    delivered=False,
                )
                self.invoices[invoice_id] = issued
            if self.after_issue is not None:
                self.after_issue()
            return issued

    def transition(
        self,
        inv: StoredInvoice,
        doc: dict[str, Any],
        status: InvoiceStatus,
        entry: AuditEntry,
        *,
        marker: str | None = None,
    ) -> TransitionResult:
        self._call("transition")
        doc = json.loads(doc_text(doc))  # kept as the table keeps it: a copy, no float
        with self._lock:
            stored = self.invoices.get(inv.id)
            if marker is not None and f"{inv.id}#{marker}" in self.markers:
                return TransitionResult.REPEATED
            if stored is None or stored.version != inv.version or stored.status is not inv.status:
                return TransitionResult.STALE
            self.invoices[inv.id] = replace(
                stored, doc=doc, status=status, version=stored.version + 1, updated_at=entry.at
            )
            self.audit.append(entry)
            if marker is not None:
                self.markers.add(f"{inv.id}#{marker}")
            return TransitionResult.DONE

    def open_due(self, before: datetime, limit: int) -> list[StoredInvoice]:
        self._call("open_due")
        found = [
            i
            for i in self.invoices.values()
            if i.status in (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE)
            and datetime.fromisoformat(i.doc["due_at"]) <= before
        ]
        return sorted(found, key=lambda i: (i.doc["due_at"], i.id))[:limit]

    def late_fees_charged(self, invoice_ids: Sequence[str]) -> set[str]:
        self._call("late_fees_charged")
        return {i for i in invoice_ids if i in self.charged}

    def mark_delivered(self, invoice_id: str) -> None:
        self._call("mark_delivered")
        with self._lock:
            stored = self.invoices.get(invoice_id)
            if stored is None or stored.number is None:  # issued (and maybe paid or void since)
                raise LookupError(f"no issued invoice {invoice_id!r}")
            self.invoices[invoice_id] = replace(stored, delivered=True)

    def undelivered(self, limit: int) -> list[StoredInvoice]:
        self._call("undelivered")
        found = [i for i in self.invoices.values() if i.number is not None and not i.delivered]  # issued once
        return sorted(found, key=lambda i: (i.issued_at, i.id))[: max(0, limit)]

    def drafts_due(self, now: datetime, limit: int) -> list[StoredInvoice]:
        self._call("drafts_due")
        due = [
            i
            for i in self.invoices.values()
            if i.status is InvoiceStatus.DRAFT and i.finalize_after is not None and i.finalize_after <= now
        ]
        return sorted(due, key=lambda i: (i.finalize_after, i.id))[: max(0, limit)]

    def list(
        self,
        *,
        tenant_id: str | None,
        status: InvoiceStatus | None,
        period: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[StoredInvoice], str | None]:
        self._call("list")
        found = [
            i
            for i in list(self.invoices.values())
            if (tenant_id is None or i.tenant_id == tenant_id)
            and (status is None or i.status is status)
            and (period is None or i.period == period)
        ]
        scope = f"invoices|{tenant_id}|{status.value if status else None}|{period}"
        return page(found, lambda i: f"{i.period}#{i.tenant_id}#{i.id}", limit, cursor, scope, newest_first=True)

    # ---------------------------------------------------------------- runs
    def create_run(self, run: InvoiceRun) -> bool:
        self._call("create_run")
        with self._lock:
            if run.id in self.runs:
                return False
            failures = sorted(
                ({"tenant_id": f["tenant_id"], "error": f["error"][:MAX_ERROR]} for f in run.failures[:MAX_FAILURES]),
                key=lambda f: f["tenant_id"],
            )
            self.runs[run.id] = replace(run, failures=failures)
            return True

    def get_run(self, run_id: str, consistent: bool = False) -> InvoiceRun | None:
        self._call("get_run")
        return self.runs.get(run_id)

    def set_run_expected(self, run_id: str, expected: int) -> None:
        self._call("set_run_expected")
        with self._lock:
            if run_id not in self.runs:
                raise LookupError(f"no invoice run {run_id!r}")
            self.runs[run_id] = replace(self.runs[run_id], expected=expected)

    def record_outcome(self, run_id: str, tenant_id: str, outcome: str, error: str | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: one of {sorted(OUTCOMES)}")
        self._call("record_outcome")
        with self._lock:
            before = self.outcomes.get((run_id, tenant_id))
            if before == outcome or (before is not None and before != "failed"):
                return  # the same outcome again, or a success, which is final
            run = self.runs.get(run_id)
            if run is None:
                raise LookupError(f"no invoice run {run_id!r}")
            self.outcomes[(run_id, tenant_id)] = outcome
            counts = {"invoiced": run.invoices, "skipped": run.skipped, "failed": run.failed}
            counts[outcome] += 1
            if before == "failed":
                counts["failed"] -= 1
            failures = [f for f in run.failures if f["tenant_id"] != tenant_id]
            if outcome == "failed" and len(failures) < MAX_FAILURES:
                failures.append({"tenant_id": tenant_id, "error": (error or "")[:MAX_ERROR]})
            self.runs[run_id] = replace(
                run,
                invoices=counts["invoiced"],
                skipped=counts["skipped"],
                failed=counts["failed"],
                failures=sorted(failures, key=lambda f: f["tenant_id"]),
            )
