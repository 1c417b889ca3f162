"""Invoices: compute one from the counters, keep it as a draft through the grace period,
issue it with a gap-free number, deliver its documents and its ``invoice.ready``.

- ``InvoiceCalculator`` reads what a plan prices (one counter query per charged meter and per
  filtered dimension) and calls ``domain.invoice_build``: the draft, the issued invoice and the
  upcoming preview are one computation.
- ``InvoiceService`` keeps the lifecycle: ``bill`` makes or refreshes the draft of an ended
  period (idempotent: the invoice id is a function of tenant and period); ``finalize``
  recomputes it from the counters and issues it, the number taken in the same transaction
  (``InvoiceStore.issue``); ``deliver`` writes the JSON and HTML documents to S3 at keys
  fixed by the invoice and raises ``invoice.ready`` through the alert service (stored once,
  published once, the alert id a function of the invoice id), then marks the invoice
  delivered. A crash between issue and delivered leaves it in the store's undelivered index,
  which the hourly job finishes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tollgate.domain import invoice_build, periods
from tollgate.domain.alert_types import INVOICE_READY
from tollgate.domain.audit import SYSTEM_ACTOR, Action, AuditEntry, tenant_subject
from tollgate.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from tollgate.domain.invoice_build import Header, PeriodUsage, PlanPart
from tollgate.domain.invoice_lifecycle import opened
from tollgate.domain.invoices import InvoiceStatus, StoredInvoice, invoice_id, period_bounds, period_of
from tollgate.domain.meters import Aggregation
from tollgate.domain.proration import PlanChange, segments
from tollgate.domain.records import Tenant
from tollgate.domain.tax import applicable_rates

from .alerts import AlertService
from .billing_catalog import BillingCatalogService
from .catalog import Catalog
from .ports import AuditLog, BlobStore, Clock, InvoiceStore
from .usage import UsageService

FINISH_PER_RUN = 50_000
"""The most drafts (and undelivered invoices) one hourly run queues: every tenant's, in all
but the largest deployments; the next hour takes the rest."""

HtmlRenderer = Callable[[dict[str, Any]], str]
"""The invoice JSON to its HTML page (``adapters.invoice_html``)."""


@dataclass(frozen=True)
class InvoiceSettings:
    number_prefix: str = "TG"
    grace: timedelta = timedelta(hours=24)
    net_days: int = 30
    link_ttl: timedelta = timedelta(days=7)
    seller_country: str = "US"


class InvoiceCalculator:
    def __init__(
        self,
        catalog: Catalog,
        usage: UsageService,
        billing: BillingCatalogService,
        audit: AuditLog,
        settings: InvoiceSettings,
    ) -> None:
        self._catalog, self._usage, self._billing, self._audit = catalog, usage, billing, audit
        self._settings = settings

    def usage(
        self,
        tenant: Tenant,
        start: datetime,
        end: datetime,
        wanted: tuple[set[str], set[tuple[str, str]]],
        *,
        unique: tuple[datetime, datetime] | None = None,
    ) -> PeriodUsage:
        """The counters of ``wanted`` (``invoice_build.needed``) over ``[start, end)``: one query
        per meter and per filtered (meter, dimension). Distinct counts do not split: a
        unique_count meter reads the whole period ``unique`` (the last plan's part), or nothing."""
        names, groups = wanted
        meters = {m: meter for m in sorted(names | {m for m, _ in groups}) if (meter := self._catalog.meter(m))}
        additive = [
            meters[m] for m in sorted(names) if m in meters and meters[m].aggregation is not Aggregation.UNIQUE_COUNT
        ]
        totals = self._usage.period_totals(tenant, additive, start, end)
        distinct = [
            meters[m] for m in sorted(names) if m in meters and meters[m].aggregation is Aggregation.UNIQUE_COUNT
        ]
        if distinct and unique is not None:
            totals.update(self._usage.period_totals(tenant, distinct, *unique))
        values = {
            (m, dim): self._usage.period_groups(tenant, meters[m], dim, start, end)
            for m, dim in sorted(groups)
            if m in meters and (meters[m].aggregation is not Aggregation.UNIQUE_COUNT or unique is not None)
        }
        return PeriodUsage(totals, values)

    def plan_changes(self, tenant_id: str, since: datetime) -> list[PlanChange]:
        """The tenant's plan changes at or after ``since``, from its audit trail (newest first,
        read back to ``since``). A plan given at creation is not a change: it covers the period
        the tenant was created in."""
        out: list[PlanChange] = []
        cursor: str | None = None
        while True:
            entries, cursor = self._audit.list(tenant_subject(tenant_id), 100, cursor)
            for e in entries:
                if e.at < since:
                    return out
                if e.action == Action.TENANT_PLAN:
                    out.append(PlanChange(e.at, (e.before or {}).get("plan"), (e.after or {}).get("plan")))
            if cursor is None:
                return out

    def compute(
        self,
        tenant: Tenant,
        period: str,
        header: Callable[[datetime, datetime], Header],
        *,
        first: bool,
        late_fees: Sequence[tuple[str, Decimal, dict[str, Any]]] = (),
    ) -> dict[str, Any] | None:
        """The invoice JSON of ``tenant`` for ``period``, or None: no plan in the period, or
        nothing to bill. A plan change inside the period splits it (``domain.proration``)."""
        tz = periods.zone(tenant.timezone)
        start, end = period_bounds(period, tz)
        segs = segments(tenant.plan, self.plan_changes(tenant.id, start), start, end, tz)
        discounts = self._billing.discounts_for(tenant.id)
        parts: list[PlanPart] = []
        for seg in segs:
            plan = self._catalog.plan(seg.plan) if seg.plan else None
            if plan is None:
                continue  # no plan over that span: nothing billed for it
            last = seg is segs[-1]
            wanted = invoice_build.needed(plan, discounts)
            usage = self.usage(tenant, seg.usage_start, seg.usage_end, wanted, unique=(start, end) if last else None)
            parts.append(PlanPart(plan, usage, seg if len(segs) > 1 else None))
        h = header(start, end)
        if not parts or (
            h.status != InvoiceStatus.UPCOMING.value
            and not late_fees
            and all(invoice_build.nothing_to_bill(p.plan, p.usage) for p in parts)
        ):
            return None
        tax = applicable_rates(
            self._billing.tax_rates(),
            tenant.billing_address,
            tenant.tax_id,
            tenant.tax_exempt,
            self._settings.seller_country,
        )
        meters = {c.meter: m for p in parts for c in p.plan.charges if (m := self._catalog.meter(c.meter)) is not None}
        totals = invoice_build.compute_parts(
            parts,
            meters,
            discounts=discounts,
            tax=tax,
            period_start=start,
            period_end=end,
            first_invoice=first,
            late_fees=late_fees,
        )
        return invoice_build.document(h, tenant, parts[-1].plan, totals, tax)


def ready_alert_id(inv_id: str) -> str:
    return "al_" + hashlib.blake2b(f"{inv_id}\x00{INVOICE_READY}".encode(), digest_size=12).hexdigest()


def document_key(inv: StoredInvoice, extension: str) -> str:
    """Where an issued invoice's documents live: fixed by the invoice, so a retry overwrites
    the same objects with the same bytes."""
    return f"invoices/{inv.tenant_id}/{inv.period}/{inv.number}.{extension}"


class InvoiceService:
    def __init__(
        self,
        calculator: InvoiceCalculator,
        store: InvoiceStore,
        catalog: Catalog,
        blobs: BlobStore,
        alerts: AlertService,
        render: HtmlRenderer,
        clock: Clock,
        settings: InvoiceSettings,
    ) -> None:
        self._calc, self._store, self._catalog, self._blobs = calculator, store, catalog, blobs
        self._alerts, self._render, self._clock, self._settings = alerts, render, clock, settings

    # ---------------------------------------------------------------- reading
    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self._catalog.tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return tenant

    def get(self, inv_id: str, tenant_scope: str | None = None) -> StoredInvoice:
        """``tenant_scope``: a tenant key sees its own invoices only (404 for the others)."""
        inv = self._store.get(inv_id)
        if inv is None or (tenant_scope is not None and inv.tenant_id != tenant_scope):
            raise NotFound(f"invoice {inv_id!r} not found")
        return inv

    def list_invoices(
        self, *, tenant_id: str | None, status: InvoiceStatus | None, period: str | None, limit: int, cursor: str | None
    ) -> tuple[list[StoredInvoice], str | None]:
        return self._store.list(tenant_id=tenant_id, status=status, period=period, limit=limit, cursor=cursor)

    def download_link(self, inv_id: str, fmt: str, tenant_scope: str | None = None) -> str:
        inv = self.get(inv_id, tenant_scope)
        if inv.number is None:
            raise Conflict(f"invoice {inv_id!r} is a draft: it has no documents until it is issued")
        if not inv.delivered:
            self.deliver(inv)
        return self._blobs.link(document_key(inv, fmt), int(self._settings.link_ttl.total_seconds()))

    def upcoming(self, tenant_id: str) -> dict[str, Any]:
        """The current period so far, computed as the invoice will be: status ``upcoming``."""
        tenant = self._tenant(tenant_id)
        if tenant.plan is None:
            raise Conflict(f"tenant {tenant_id!r} has no plan: nothing is billed")
        period = period_of(self._clock.now(), periods.zone(tenant.timezone))
        doc = self._calc.compute(
            tenant,
            period,
            lambda s, e: Header(None, InvoiceStatus.UPCOMING.value, s, e),
            first=self._first(tenant),
            late_fees=self.late_fees(tenant.id),
        )
        assert doc is not None  # a preview is computed even with nothing to bill
        return doc

    def late_fees(self, tenant_id: str, exclude: str | None = None) -> list[tuple[str, Decimal, dict[str, Any]]]:
        """The late fees accrued on the tenant's invoices and not yet charged by an issued one:
        the lines its next invoice carries (``InvoiceStore.issue`` charges each once)."""
        pending: list[StoredInvoice] = []
        cursor: str | None = None
        while True:
            found, cursor = self._store.list(tenant_id=tenant_id, status=None, period=None, limit=100, cursor=cursor)
            pending += [
                i
                for i in found
                if i.doc.get("late_fee_pending") and i.status is not InvoiceStatus.VOID and i.id != exclude
            ]
            if cursor is None:
                break
        charged = self._store.late_fees_charged([i.id for i in pending]) if pending else set()
        return [
            (
                f"Late fee on invoice {i.number}",
                Decimal(i.doc["late_fee_pending"]["amount"]),
                {"invoice_id": i.id, "number": i.number},
            )
            for i in sorted(pending, key=lambda i: i.number or "")
            if i.id not in charged
        ]

    def _first(self, tenant: Tenant) -> bool:
        issued, _ = self._store.list(
            tenant_id=tenant.id, status=InvoiceStatus.ISSUED, period=None, limit=1, cursor=None
        )
        return not issued

    # ---------------------------------------------------------------- billing
    def check_ended(self, tenant: Tenant, period: str) -> None:
        _, end = period_bounds(period, periods.zone(tenant.timezone))
        if self._clock.now() < end:
            raise ValidationFailed(
                f"period {period} has not ended for tenant {tenant.id!r}",
                [FieldError("period", f"ends {end.isoformat()} in the tenant's zone; only ended periods are billed")],
            )

    def bill(self, tenant_id: str, period: str, run_id: str | None = None) -> str:
        """Make or refresh the draft of ``period``: ``invoiced`` (a draft made, refreshed or
        already issued) or ``skipped`` (no plan, or nothing to bill). Idempotent."""
        tenant = self._tenant(tenant_id)
        self.check_ended(tenant, period)
        generation = self._generation(tenant.id, period)
        inv_id = invoice_id(tenant.id, period, generation)
        existing = self._store.get(inv_id, consistent=True)
        if existing is not None and existing.status is not InvoiceStatus.DRAFT:
            return "invoiced"
        doc = self._calc.compute(
            tenant,
            period,
            lambda s, e: Header(inv_id, InvoiceStatus.DRAFT.value, s, e),
            first=self._first(tenant),
            late_fees=self.late_fees(tenant.id, exclude=inv_id),
        )
        if doc is None:
            return "skipped"
        now = self._clock.now()
        if existing is None:
            _, end = period_bounds(period, periods.zone(tenant.timezone))
            draft = StoredInvoice(
                id=inv_id,
                tenant_id=tenant.id,
                period=period,
                status=InvoiceStatus.DRAFT,
                currency=doc["currency"],
                doc=doc,
                created_at=now,
                updated_at=now,
                finalize_after=end + self._settings.grace,
                run_id=run_id,
                generation=generation,
            )
            if self._store.create_draft(draft):
                return "invoiced"
            existing = self._store.get(inv_id, consistent=True)  # another run made it first
            if existing is None or existing.status is not InvoiceStatus.DRAFT:
                return "invoiced"
        if existing.doc != doc:
            self._store.replace_draft(existing.replaced(doc=doc, updated_at=now), existing.version)
        return "invoiced"

    def _generation(self, tenant_id: str, period: str) -> int:
        """The period's invoice to bill: the one not voided, else a fresh one after the voids
        (numbers are never reused: a voided invoice keeps its own)."""
        found, _ = self._store.list(tenant_id=tenant_id, status=None, period=period, limit=100, cursor=None)
        live = [i.generation for i in found if i.status is not InvoiceStatus.VOID]
        if live:
            return min(live)
        return max((i.generation + 1 for i in found), default=0)

    def finalize(self, inv_id: str, actor: str = SYSTEM_ACTOR) -> StoredInvoice:
        """Recompute the draft from the counters and issue it with the next number (one
        transaction); deliver its documents. An issued invoice is returned as it is."""
        inv = self._store.get(inv_id, consistent=True)
        if inv is None:
            raise NotFound(f"invoice {inv_id!r} not found")
        if inv.status is InvoiceStatus.DRAFT:
            draft, tenant = inv, self._tenant(inv.tenant_id)
            first = self._first(tenant)

            def make(number: str, issued_at: datetime) -> dict[str, Any]:
                due = issued_at + timedelta(days=self._settings.net_days)
                doc = self._calc.compute(
                    tenant,
                    draft.period,
                    lambda s, e: Header(draft.id, InvoiceStatus.ISSUED.value, s, e, number, issued_at, due),
                    first=first,
                    late_fees=self.late_fees(tenant.id, exclude=draft.id),
                )
                return opened(doc if doc is not None else _reissued(draft.doc, number, issued_at, due))

            def entry(number: str, issued_at: datetime) -> AuditEntry:
                return AuditEntry(
                    subject=tenant_subject(draft.tenant_id),
                    at=issued_at,
                    actor=actor,
                    action=Action.INVOICE_ISSUE,
                    before={"invoice_id": draft.id, "status": InvoiceStatus.DRAFT.value},
                    after={"invoice_id": draft.id, "status": InvoiceStatus.ISSUED.value, "number": number},
                    reason=None,
                )

            inv = self._store.issue(inv.id, self._settings.number_prefix, make, self._clock.now, entry)
        if not inv.delivered:
            self.deliver(inv)
        return inv

    def deliver(self, inv: StoredInvoice) -> None:
        """Documents to S3, then ``invoice.ready`` (once: its alert id is the invoice's), then
        delivered. Every step repeats safely."""
        tenant = self._catalog.tenant(inv.tenant_id)
        body = json.dumps(inv.doc, indent=2, sort_keys=True).encode()
        self._blobs.put(document_key(inv, "json"), body, "application/json")
        html = self._render(inv.doc)
        self._blobs.put(document_key(inv, "html"), html.encode(), "text/html; charset=utf-8")
        ttl = int(self._settings.link_ttl.total_seconds())
        self._alerts.raise_(
            [
                {
                    "id": ready_alert_id(inv.id),
                    "type": INVOICE_READY,
                    "severity": "info",
                    "tenant_id": inv.tenant_id,
                    "tenant_name": tenant.name if tenant is not None else None,
                    "invoice_id": inv.id,
                    "number": inv.number,
                    "period": inv.period,
                    "currency": inv.currency,
                    "total": inv.doc.get("total"),
                    "due_at": inv.doc.get("due_at"),
                    "links": {
                        "html": self._blobs.link(document_key(inv, "html"), ttl),
                        "json": self._blobs.link(document_key(inv, "json"), ttl),
                        "expires_at": (self._clock.now() + self._settings.link_ttl).isoformat(),
                    },
                    "occurred_at": self._clock.now()
                    .astimezone(periods.zone(tenant.timezone) if tenant else None)
                    .isoformat(),
                }
            ]
        )
        self._store.mark_delivered(inv.id)

    def finish_due(self, limit: int = FINISH_PER_RUN) -> tuple[list[str], list[str]]:
        """The hourly job's second duty: drafts past their grace to finalize, and issued
        invoices a crash left undelivered. Returns (due draft ids, undelivered ids) for the
        caller to fan out."""
        now = self._clock.now()
        due = [i.id for i in self._store.drafts_due(now, limit)]
        undelivered = [i.id for i in self._store.undelivered(limit)]
        return due, undelivered


def _reissued(doc: dict[str, Any], number: str, issued_at: datetime, due: datetime) -> dict[str, Any]:
    """A draft whose plan was removed since: issue what the draft says."""
    return {
        **doc,
        "number": number,
        "status": InvoiceStatus.ISSUED.value,
        "issued_at": issued_at.isoformat(),
        "due_at": due.isoformat(),
    }
