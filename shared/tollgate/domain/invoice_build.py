"""One tenant's invoice for one period, from its plan, the period's counters, its discounts
and its tax decision. Pure; no AWS. The draft, the issued invoice and the upcoming-invoice
preview are all this one function, so the same usage always gives the same amounts.

Quantities (``charge_quantities``) come from the month counters, never from raw events:
- an unfiltered charge alone on its meter prices the meter's period total (sum and count:
  the total; max: the maximum; latest: the value at the period's end; unique_count: the
  month's distinct values);
- a filtered charge (``{dimension: value}``) prices that value's group counter;
- an unfiltered charge beside filtered ones prices the remainder, the total minus the
  filtered quantities (sum and count meters only: ``pricing`` refuses it on the others).
A percentage charge's events (for its fixed amount) are the period total of its
``events_meter``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import periods
from .discounts import ChargeAmount, Discount, DiscountContext, apply_discounts
from .invoice_totals import Draft, Totals, as_json, assemble
from .plans import Plan
from .pricing import ZERO, Charge, Model, Priced, decimal_text, money_text, price
from .proration import Segment
from .records import Meter, Tenant
from .tax import TaxDecision


@dataclass(frozen=True)
class PeriodUsage:
    """The counters an invoice reads: each meter's period total (None: no usage of a max or
    latest meter) and each (meter, dimension)'s values."""

    totals: Mapping[str, Decimal | None] = field(default_factory=dict)
    groups: Mapping[tuple[str, str], Mapping[str, Decimal]] = field(default_factory=dict)

    def total(self, meter: str) -> Decimal:
        return self.totals.get(meter) or ZERO


def needed(plan: Plan, discounts: Iterable[Discount] = ()) -> tuple[set[str], set[tuple[str, str]]]:
    """What to read: the meters whose totals the plan and discounts use, and the (meter,
    dimension) pairs of filtered charges. One query each: the reads grow with the charges,
    never with the events."""
    totals = {c.meter for c in plan.charges} | {c.events_meter for c in plan.charges if c.events_meter}
    totals |= {d.conditions.min_usage.meter for d in discounts if d.conditions.min_usage is not None}
    groups = {(c.meter, c.filter[0]) for c in plan.charges if c.filter is not None}
    return totals, groups


def charge_quantities(charges: Sequence[Charge], usage: PeriodUsage) -> list[Decimal]:
    """Each charge's quantity, in the charges' order (see the module's docstring)."""
    filtered_sum: dict[str, Decimal] = {}
    quantities: list[Decimal | None] = []
    for c in charges:
        if c.filter is None:
            quantities.append(None)
            continue
        q = usage.groups.get((c.meter, c.filter[0]), {}).get(c.filter[1], ZERO)
        filtered_sum[c.meter] = filtered_sum.get(c.meter, ZERO) + q
        quantities.append(q)
    return [
        q if q is not None else max(ZERO, usage.total(c.meter) - filtered_sum.get(c.meter, ZERO))
        for c, q in zip(charges, quantities, strict=True)
    ]


def has_usage(plan: Plan, usage: PeriodUsage) -> bool:
    return any(q != 0 for q in charge_quantities(plan.charges, usage))


def nothing_to_bill(plan: Plan, usage: PeriodUsage) -> bool:
    """No invoice: no base fee, no minimum commitment and no usage of any charged meter. Usage
    that prices at 0 (free units) still gets an invoice, of 0: the tenant's record."""
    return not plan.base_fee and plan.minimum_commitment is None and not has_usage(plan, usage)


def _text(d: Decimal) -> str:
    return decimal_text(d.normalize()) if d else "0"


def _description(charge: Charge, meter: Meter | None, priced: Priced, events: Decimal) -> str:
    name = meter.name if meter is not None else charge.meter
    if charge.filter is not None:
        name += f" ({charge.filter[0]}: {charge.filter[1]})"
    if charge.free_units:
        name += f", first {_text(charge.free_units)} free"
    if charge.model is Model.PACKAGE:
        name += f", {_text(charge.package_amount)} per {_text(charge.package_size)}"
    if charge.model is Model.PERCENTAGE:
        name += f", {_text(charge.rate)} %"
        if charge.fixed_amount:
            name += f" + {_text(charge.fixed_amount)} x {_text(events)} events"
    return name


def _details(charge: Charge, priced: Priced, currency: str) -> dict[str, Any]:
    unit: Decimal | None = None
    if charge.model is Model.PER_UNIT:
        unit = charge.unit_amount
    elif charge.model is Model.VOLUME and priced.tiers:
        unit = priced.tiers[0].unit_amount
    details: dict[str, Any] = {
        "meter": charge.meter,
        "filter": {charge.filter[0]: charge.filter[1]} if charge.filter else None,
        "model": charge.model.value,
        "quantity": _text(priced.quantity),
        "billable_quantity": _text(priced.billable),
        "unit_amount": None if unit is None else decimal_text(unit),
    }
    if charge.model in (Model.GRADUATED, Model.VOLUME):
        details["tiers"] = [
            {
                "tier": t.tier,
                "quantity": _text(t.quantity),
                "unit_amount": decimal_text(t.unit_amount),
                "flat_amount": decimal_text(t.flat_amount),
                "amount": money_text(t.amount, currency),
            }
            for t in priced.tiers
        ]
    return details


@dataclass(frozen=True)
class Header:
    """What the invoice is, apart from its amounts."""

    id: str | None
    status: str
    period_start: datetime  # aware, in the tenant's zone
    period_end: datetime
    number: str | None = None
    issued_at: datetime | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class PlanPart:
    """One plan in force over part of the period (``proration.Segment``) and its usage."""

    plan: Plan
    usage: PeriodUsage
    segment: Segment | None = None  # None: the whole period


def compute(
    plan: Plan,
    meters: Mapping[str, Meter],
    usage: PeriodUsage,
    *,
    discounts: Sequence[Discount] = (),
    tax: TaxDecision | None = None,
    period_start: datetime,
    period_end: datetime,
    first_invoice: bool = False,
) -> Totals:
    """The invoice's lines and totals for one plan over the whole period."""
    return compute_parts(
        [PlanPart(plan, usage)],
        meters,
        discounts=discounts,
        tax=tax,
        period_start=period_start,
        period_end=period_end,
        first_invoice=first_invoice,
    )


def _span(segment: Segment, tz: Any) -> str:
    return f"{segment.start.astimezone(tz):%Y-%m-%d %H:%M} – {segment.end.astimezone(tz):%Y-%m-%d %H:%M}"


def compute_parts(
    parts: Sequence[PlanPart],
    meters: Mapping[str, Meter],
    *,
    discounts: Sequence[Discount] = (),
    tax: TaxDecision | None = None,
    period_start: datetime,
    period_end: datetime,
    first_invoice: bool = False,
    late_fees: Sequence[tuple[str, Decimal, dict[str, Any]]] = (),
) -> Totals:
    """The invoice's lines and totals (``invoice_totals.assemble`` rounds and adds). With
    several parts (a plan change), each plan's base fee is prorated by its share of the
    period and its charges price its own usage; each line names its plan and span."""
    last = parts[-1].plan
    cur, split = last.currency, len(parts) > 1
    tz = period_start.tzinfo
    fees: list[tuple[str, Decimal, dict[str, Any]]] = []
    charges: list[tuple[str, Decimal, dict[str, Any]]] = []
    minimum: Decimal | None = None
    for part in parts:
        seg = part.segment
        share = seg.share(period_start, period_end) if seg is not None else Decimal(1)
        where = {"plan": part.plan.id, "from": seg.start.isoformat(), "to": seg.end.isoformat()} if seg else {}
        label = f" ({part.plan.name}, {_span(seg, tz)})" if split and seg is not None else ""
        if part.plan.base_fee:
            share_text = {"share": f"{share:.6f}"} if split else {}
            fees.append((f"Base fee{label}", part.plan.base_fee * share, {**where, **share_text}))
        if part.plan.minimum_commitment is not None:
            minimum = (minimum or ZERO) + part.plan.minimum_commitment * share
        for charge, quantity in zip(part.plan.charges, charge_quantities(part.plan.charges, part.usage), strict=True):
            events = part.usage.total(charge.events_meter) if charge.events_meter else ZERO
            priced = price(charge, quantity, events=int(events))
            description = _description(charge, meters.get(charge.meter), priced, events) + label
            charges.append((description, priced.amount, {**_details(charge, priced, cur), **where}))
    draft = Draft(cur, ZERO, tuple(charges), minimum, base_fees=tuple(fees), late_fees=tuple(late_fees))
    usage_total: dict[str, Decimal] = {}
    for part in parts:
        for m in part.usage.totals:
            usage_total[m] = usage_total.get(m, ZERO) + part.usage.total(m)
    context = DiscountContext(
        plan=last.id,
        period_start=period_start,
        period_end=period_end,
        usage=usage_total,
        first_invoice=first_invoice,
    )

    def discount_lines(subtotal: Decimal) -> list[tuple[str, Decimal]]:
        amounts = [ChargeAmount(d["meter"], a, _filter_of(d)) for _, a, d in charges]
        return [(line.name, line.amount) for line in apply_discounts(discounts, subtotal, amounts, context)]

    decision = tax or TaxDecision()
    return assemble(
        draft,
        discounts=discount_lines if discounts else None,
        tax_rates=decision.named_rates(),
        reverse_charge=decision.reverse_charge,
    )


def _filter_of(details: Mapping[str, Any]) -> tuple[str, str] | None:
    flt = details.get("filter")
    return next(iter(flt.items())) if flt else None


def _at(moment: datetime | None, zone: str) -> str | None:
    """RFC 3339 with the tenant's offset, as the period's bounds are."""
    return moment.astimezone(periods.zone(zone)).isoformat() if moment is not None else None


def document(header: Header, tenant: Tenant, plan: Plan, totals: Totals, tax: TaxDecision | None) -> dict[str, Any]:
    """The invoice JSON: ``GET /v1/invoices/{id}``, the stored document and the S3 JSON."""
    address = tenant.billing_address
    return {
        "id": header.id,
        "number": header.number,
        "tenant_id": tenant.id,
        "status": header.status,
        "plan": plan.id,
        "period": {"start": header.period_start.isoformat(), "end": header.period_end.isoformat()},
        "timezone": tenant.timezone,
        "bill_to": {
            "name": tenant.name,
            "billing_address": address.as_dict() if address is not None else None,
            "tax_id": tenant.tax_id,
            "email": tenant.billing_email,
        },
        **as_json(totals),
        "tax_note": tax.note if tax is not None else None,
        "issued_at": _at(header.issued_at, tenant.timezone),
        "due_at": _at(header.due_at, tenant.timezone),
    }


def bill_to_lines(doc: Mapping[str, Any]) -> list[str]:
    """The bill-to block of the HTML invoice: name, address lines, tax id."""
    bill_to = doc.get("bill_to") or {}
    address = bill_to.get("billing_address") or {}
    city = " ".join(p for p in (address.get("postal_code"), address.get("city")) if p)
    lines = [bill_to.get("name"), address.get("line1"), address.get("line2"), city, address.get("region")]
    lines.append(address.get("country"))
    if bill_to.get("tax_id"):
        lines.append(f"Tax ID: {bill_to['tax_id']}")
    return [str(line) for line in lines if line]
