"""Monthly reports: one row per tenant (plan, health, usage per meter against its monthly
limit, overage and its cost, the period's invoice) and a summary over them. Pure; no AWS.

Each tenant's row covers its own calendar month ``YYYY-MM`` in its own zone: the window its
monthly limits count and its invoice for the period bills. A report of ``P`` is therefore
complete once ``P`` has ended in every zone: at noon UTC on the first of the next month, when
it ends in the westernmost zone (UTC-12, ``ready_at``). The operator's zone
(``OperatorTimezone``) names which month the scheduled job reports on (docs/reports.md).

Health is the period's own: the worst level (``quota.status_for``) over the tenant's monthly
limits at the period's usage, so a report of a closed month reads the same whenever it is
made (the health store holds the current windows' health, not a past month's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .alert_types import REPORT_READY
from .alerts import overage_cost
from .health import assess
from .invoices import InvoiceStatus, period_bounds
from .periods import Window, zone
from .plans import Limit, Plan
from .pricing import decimal_text, money_text
from .quota import LimitState, WindowBounds
from .records import Tenant

LATEST_ZONE = ZoneInfo("Etc/GMT+12")
"""UTC-12: the last zone in which a month ends."""
NO_PLAN = "(none)"
"""The plan distribution's key for tenants without a plan (not a valid plan id)."""
REVENUE_STATUSES = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PAID, InvoiceStatus.OVERDUE})
"""Invoices whose totals count as the period's revenue (not drafts, not voided ones)."""

CSV_COLUMNS = (
    "period",
    "tenant",
    "name",
    "plan",
    "timezone",
    "health",
    "meter",
    "usage",
    "limit",
    "percent",
    "overage_units",
    "overage_cost",
    "currency",
    "invoice_number",
    "invoice_total",
    "invoice_currency",
    "invoice_status",
)


def ready_at(period: str) -> datetime:
    """When ``period`` has ended in every zone (its report is complete)."""
    return period_bounds(period, LATEST_ZONE)[1]


def report_alert_id(period: str) -> str:
    """``report.ready``'s id: one per period, so a redelivered or rerun job publishes once."""
    return "al_" + hashlib.blake2b(f"report\x00{period}\x00{REPORT_READY}".encode(), digest_size=12).hexdigest()


def report_key(period: str, fmt: str) -> str:
    """Where the period's report lives in the bucket: fixed, so a rerun overwrites it."""
    return f"reports/{period}.{fmt}"


@dataclass(frozen=True)
class InvoiceRef:
    """What a report keeps of a tenant's invoice for the period."""

    id: str
    number: str | None
    total: str | None
    currency: str
    status: InvoiceStatus
    generation: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "total": self.total,
            "currency": self.currency,
            "status": self.status.value,
        }


def pick_invoice(current: InvoiceRef | None, candidate: InvoiceRef) -> InvoiceRef:
    """The invoice a row shows when a period has several (a void and its re-bill): the live
    one, else the latest generation."""
    if current is None:
        return candidate

    def rank(ref: InvoiceRef) -> tuple[bool, int]:
        return ref.status is not InvoiceStatus.VOID, ref.generation

    return candidate if rank(candidate) > rank(current) else current


def meters_of(plan: Plan | None, limits: Iterable[Limit]) -> list[str]:
    """The meters a tenant's row reports: those its plan charges and those it has a limit on."""
    names = {lim.meter for lim in limits}
    if plan is not None:
        names |= {c.meter for c in plan.charges}
    return sorted(names)


def _monthly(limits: Iterable[Limit], meter: str) -> Limit | None:
    return next((lim for lim in limits if lim.meter == meter and lim.window is Window.MONTH), None)


def meter_row(meter: str, usage: Decimal, limit: Limit | None, plan: Plan | None) -> dict[str, Any]:
    """One meter of a tenant's row: usage against the monthly limit, the units above it and
    what they cost (``alerts.overage_cost``: when the plan prices exactly the usage above the
    limit; else null)."""
    row: dict[str, Any] = {
        "meter": meter,
        "usage": decimal_text(usage),
        "limit": None,
        "percent": None,
        "overage_units": "0",
        "overage_cost": None,
        "currency": None,
    }
    if limit is None:
        return row
    row["limit"] = decimal_text(limit.limit)
    if limit.limit > 0:
        row["percent"] = decimal_text((usage / limit.limit * 100).quantize(Decimal("0.1")))
    row["overage_units"] = decimal_text(max(Decimal(0), usage - limit.limit))
    cost = overage_cost(plan, limit, usage)
    if cost is not None:
        row["overage_cost"], row["currency"] = cost
    return row


def tenant_row(
    tenant: Tenant,
    plan: Plan | None,
    limits: Sequence[Limit],
    usage: Mapping[str, Decimal | None],
    invoice: InvoiceRef | None,
    period: str,
) -> dict[str, Any]:
    """A tenant's row of ``period``: ``limits`` are its effective limits; ``usage`` each reported meter's total in its month (None: no usage)."""
    start, end = period_bounds(period, zone(tenant.timezone))
    rows, states = [], []
    for meter in meters_of(plan, limits):
        used = usage.get(meter) or Decimal(0)
        limit = _monthly(limits, meter)
        rows.append(meter_row(meter, used, limit, plan))
        if limit is not None:
            states.append(LimitState(limit, used, WindowBounds(start, end)))
    health = assess(tenant.id, states, end)
    return {
        "tenant": tenant.id,
        "name": tenant.name,
        "plan": tenant.plan,
        "timezone": tenant.timezone,
        "health": health.status.value,
        "meters": rows,
        "invoice": invoice.as_dict() if invoice is not None else None,
    }


def is_active(row: Mapping[str, Any]) -> bool:
    """Whether a row shows any usage or an invoice."""
    return row.get("invoice") is not None or any(Decimal(m["usage"]) != 0 for m in row["meters"])


def csv_rows(row: Mapping[str, Any], period: str) -> list[list[Any]]:
    """A tenant's row as CSV rows (``CSV_COLUMNS``): one per meter, or one with empty meter
    columns for a tenant with none."""
    invoice = row.get("invoice") or {}
    head = [period, row["tenant"], row["name"], row["plan"], row["timezone"], row["health"]]
    tail = [invoice.get("number"), invoice.get("total"), invoice.get("currency"), invoice.get("status")]
    meters = row["meters"] or [{}]
    keys = ("meter", "usage", "limit", "percent", "overage_units", "overage_cost", "currency")
    return [head + [m.get(k) for k in keys] + tail for m in meters]


@dataclass
class Summary:
    """The totals over a report's rows, added to one row at a time."""

    meters: dict[str, Decimal] = field(default_factory=dict)
    plans: dict[str, int] = field(default_factory=dict)
    tenants: int = 0
    tenants_with_overages: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)

    def add(self, row: Mapping[str, Any]) -> None:
        self.tenants += 1
        plan = row["plan"] or NO_PLAN
        self.plans[plan] = self.plans.get(plan, 0) + 1
        for m in row["meters"]:
            self.meters[m["meter"]] = self.meters.get(m["meter"], Decimal(0)) + Decimal(m["usage"])
        if any(Decimal(m["overage_units"]) > 0 for m in row["meters"]):
            self.tenants_with_overages += 1
        invoice = row.get("invoice")
        if invoice and InvoiceStatus(invoice["status"]) in REVENUE_STATUSES and invoice["total"] is not None:
            cur = invoice["currency"]
            self.revenue[cur] = self.revenue.get(cur, Decimal(0)) + Decimal(invoice["total"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "meters": {k: decimal_text(v) for k, v in sorted(self.meters.items())},
            "plans": dict(sorted(self.plans.items())),
            "tenants": self.tenants,
            "tenants_with_overages": self.tenants_with_overages,
            "revenue": {cur: money_text(v, cur) for cur, v in sorted(self.revenue.items())},
        }
