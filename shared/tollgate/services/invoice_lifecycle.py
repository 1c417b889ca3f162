"""An issued invoice's life: payments, voids, overdue and reminders
(``domain.invoice_lifecycle`` has the rules).

Each move reads the invoice, computes the next document, and writes it on the condition that
the invoice is still at the version read (``InvoiceStore.transition``), with its audit entry
(under the tenant's subject: ``GET /v1/audit?tenant=`` lists them) in the same transaction. A
move that lost a race reads again: if the new state still allows it, it applies (two partial
payments both count); if not, the loser gets 409. A payment's reference is written in the
same transaction, once: repeating it changes nothing and answers the invoice as it is.

The daily job (``daily``) marks issued invoices past their due date ``overdue`` and publishes
``invoice.overdue``, then publishes each ``invoice.reminder`` whose moment has come, once per
(invoice, offset). Both go through the alert service, whose ids are functions of (invoice,
kind, offset): a rerun, a redelivery or two jobs at once publish each once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tollgate.domain import invoice_lifecycle as life
from tollgate.domain import periods
from tollgate.domain.alert_types import INVOICE_OVERDUE, INVOICE_REMINDER
from tollgate.domain.audit import Action, AuditEntry, tenant_subject
from tollgate.domain.errors import Conflict, NotFound
from tollgate.domain.invoices import InvoiceStatus, StoredInvoice, TransitionResult

from .alerts import AlertService
from .catalog import Catalog
from .ports import Clock, InvoiceStore

ATTEMPTS = 8
SCAN_LIMIT = 50_000
"""The most open invoices one daily run reads (due within the earliest reminder's reach)."""


def event_id(invoice_id: str, kind: str, offset: int | None = None) -> str:
    text = f"{invoice_id}\x00{kind}\x00{'' if offset is None else offset}"
    return "al_" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class DailyReport:
    overdue: int
    reminders: int
    late_fees: int = 0

    def summary(self) -> dict[str, int]:
        return {"overdue": self.overdue, "reminders": self.reminders, "late_fees": self.late_fees}


def _state(inv: StoredInvoice) -> dict[str, Any]:
    return {
        "invoice_id": inv.id,
        "number": inv.number,
        "status": inv.status.value,
        "amount_paid": inv.doc.get("amount_paid"),
        "amount_due": inv.doc.get("amount_due"),
    }


class InvoiceLifecycle:
    def __init__(
        self,
        store: InvoiceStore,
        alerts: AlertService,
        catalog: Catalog,
        clock: Clock,
        *,
        reminder_offsets: Sequence[int] = life.DEFAULT_REMINDER_OFFSETS,
    ) -> None:
        self._store, self._alerts, self._catalog, self._clock = store, alerts, catalog, clock
        self._offsets = tuple(sorted(reminder_offsets))

    def _get(self, invoice_id: str, tenant_scope: str | None = None) -> StoredInvoice:
        inv = self._store.get(invoice_id, consistent=True)
        if inv is None or (tenant_scope is not None and inv.tenant_id != tenant_scope):
            raise NotFound(f"invoice {invoice_id!r} not found")
        return inv

    def _move(
        self,
        invoice_id: str,
        step: Callable[[StoredInvoice], dict[str, Any]],
        action: str,
        actor: str,
        reason: str | None,
        *,
        marker: str | None = None,
    ) -> tuple[StoredInvoice, bool]:
        """Apply ``step`` to the invoice as stored, conditionally; (the invoice after, moved)."""
        for _ in range(ATTEMPTS):
            inv = self._get(invoice_id)
            doc = step(inv)  # raises Conflict when the state no longer allows the move
            status = InvoiceStatus(doc["status"])
            after = inv.replaced(doc=doc, status=status, version=inv.version + 1)
            entry = AuditEntry(
                subject=tenant_subject(inv.tenant_id),
                at=self._clock.now(),
                actor=actor,
                action=action,
                before=_state(inv),
                after=_state(after),
                reason=reason,
            )
            result = self._store.transition(inv, doc, status, entry, marker=marker)
            if result is TransitionResult.DONE:
                return after, True
            if result is TransitionResult.REPEATED:
                return self._get(invoice_id), False
        raise Conflict(f"invoice {invoice_id!r} kept changing; try again")

    # ---------------------------------------------------------------- payments and voids
    def pay(
        self,
        invoice_id: str,
        *,
        amount: Decimal | None,
        reference: str | None,
        paid_at: datetime | None,
        actor: str,
    ) -> StoredInvoice:
        inv = self._get(invoice_id)
        if amount is not None:
            amount = life.parse_amount(amount, inv.currency)
        payment = life.Payment(
            reference=reference or f"pay_{uuid.uuid4().hex}",
            paid_at=paid_at or self._clock.now(),
            amount=amount,
        )
        moved, _ = self._move(
            invoice_id,
            lambda i: life.pay(i.doc, i.status, payment),
            Action.INVOICE_PAY,
            actor,
            f"payment {payment.reference}",
            marker=payment.reference,
        )
        return moved

    def void(self, invoice_id: str, *, reason: str, actor: str) -> StoredInvoice:
        now = self._clock.now()
        moved, _ = self._move(
            invoice_id, lambda i: life.void(i.doc, i.status, reason, now), Action.INVOICE_VOID, actor, reason
        )
        return moved

    # ---------------------------------------------------------------- the daily job
    def daily(self, as_of: datetime) -> DailyReport:
        """Overdue, then reminders, for the scheduled time ``as_of`` (a retry keeps it)."""
        reach = max(0, -min(self._offsets, default=0))
        open_invoices = self._store.open_due(as_of + timedelta(days=reach), SCAN_LIMIT)
        overdue = late = 0
        docs: list[dict[str, Any]] = []
        for inv in open_invoices:
            if life.is_overdue(inv.doc, inv.status, as_of):
                try:
                    inv, moved = self._move(
                        inv.id,
                        lambda i: life.mark_overdue(i.doc, i.status, as_of),
                        Action.INVOICE_OVERDUE,
                        "system",
                        None,
                    )
                    overdue += moved
                except Conflict:
                    continue  # paid or voided meanwhile
            if inv.status is InvoiceStatus.OVERDUE:
                docs.append(self._event(inv, INVOICE_OVERDUE, None))
                late += self._accrue(inv, as_of)
            due_at = datetime.fromisoformat(inv.doc["due_at"])
            docs += [self._event(inv, INVOICE_REMINDER, o) for o in life.reminders_due(due_at, as_of, self._offsets)]
        new = self._alerts.new_only(docs)
        self._alerts.raise_(new)
        return DailyReport(overdue, sum(1 for d in new if d["type"] == INVOICE_REMINDER), late)

    def _accrue(self, inv: StoredInvoice, as_of: datetime) -> int:
        """The plan's late fee, once, on an invoice overdue long enough (a conditional move)."""
        plan = self._catalog.plan(inv.doc.get("plan") or "")
        policy = plan.late_fee if plan is not None else None
        if not life.late_fee_due(inv.doc, inv.status, policy, as_of):
            return 0
        assert policy is not None
        try:
            _, moved = self._move(
                inv.id,
                lambda i: life.accrue_late_fee(i.doc, i.status, policy, as_of),
                Action.INVOICE_LATE_FEE,
                "system",
                None,
            )
        except Conflict:
            return 0  # paid, voided or accrued meanwhile
        return int(moved)

    def _event(self, inv: StoredInvoice, kind: str, offset: int | None) -> dict[str, Any]:
        tenant = self._catalog.tenant(inv.tenant_id)
        tz = periods.zone(tenant.timezone) if tenant is not None else None
        doc: dict[str, Any] = {
            "id": event_id(inv.id, kind, offset),
            "type": kind,
            "severity": "warning" if kind == INVOICE_OVERDUE else "info",
            "tenant_id": inv.tenant_id,
            "invoice_id": inv.id,
            "number": inv.number,
            "period": inv.period,
            "currency": inv.currency,
            "total": inv.doc.get("total"),
            "amount_due": inv.doc.get("amount_due"),
            "due_at": inv.doc.get("due_at"),
            "occurred_at": self._clock.now().astimezone(tz).isoformat(),
        }
        if offset is not None:
            doc["offset_days"] = offset
        return doc
