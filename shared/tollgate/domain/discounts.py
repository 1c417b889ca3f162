"""Discounts: their definitions, their checks, and which lines an invoice gets. Pure; no AWS.

``apply_discounts`` works on the subtotal before discounts (base fee, charges and minimum
commitment true-up, each line already rounded by the invoice):

- Only eligible discounts apply: every condition given holds (``Conditions.holds``).
- They apply in ascending ``priority`` (then ``id``), before tax. Once a non-stackable
  discount applies, no later one does (a non-stackable discount that is not eligible stops
  nothing).
- Each discount's base is what it applies to: the whole subtotal, or, with ``applies_to``,
  the charges of its meters and/or of its one dimension value (before discounts). The base is
  capped by what earlier discounts left, so the discounts together never take the subtotal
  below zero; a fixed discount takes at most that.
- ``percentage``: ``percent`` of the base; ``fixed``: ``amount``; ``volume``: the percent of
  the highest tier whose ``from_amount`` the base reaches (none reached: no line).
- Each applied discount is one line with a negative, unrounded amount; the invoice rounds it
  to the currency's minor units. A discount that comes to 0 gives no line.

Which tenants a discount applies to is decided before this function (the billing catalog's
assignments): it gets the discounts of one tenant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from .errors import FieldError

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAX_TIERS = 20
MAX_DISCOUNTS = 1000
MAX_TENANT_DISCOUNTS = 40
"""One write moves the count of each discount swapped: 2 × 40 + 2 items fit a transaction."""


class DiscountType(str, Enum):
    PERCENTAGE = "percentage"
    FIXED = "fixed"
    VOLUME = "volume"


@dataclass(frozen=True)
class VolumeTier:
    from_amount: Decimal
    percent: Decimal


@dataclass(frozen=True)
class AppliesTo:
    meters: tuple[str, ...] = ()
    """Empty: charges of every meter (then ``filter`` says which)."""
    filter: tuple[str, str] | None = None
    """(dimension, value): only charges filtered on exactly this value."""

    def covers(self, charge: ChargeAmount) -> bool:
        if self.meters and charge.meter not in self.meters:
            return False
        return self.filter is None or charge.filter == self.filter


@dataclass(frozen=True)
class MinUsage:
    meter: str
    quantity: Decimal


@dataclass(frozen=True)
class Conditions:
    plans: tuple[str, ...] = ()
    min_subtotal: Decimal | None = None
    min_usage: MinUsage | None = None
    valid_from: datetime | None = None  # inclusive
    valid_to: datetime | None = None  # exclusive
    first_invoice_only: bool = False

    def holds(self, subtotal: Decimal, context: DiscountContext) -> bool:
        """Each condition given holds. Validity: the window [valid_from, valid_to) overlaps the
        billing period [start, end)."""
        if self.plans and context.plan not in self.plans:
            return False
        if self.min_subtotal is not None and subtotal < self.min_subtotal:
            return False
        if self.min_usage is not None and context.usage.get(self.min_usage.meter, ZERO) < self.min_usage.quantity:
            return False
        if self.valid_from is not None and self.valid_from >= context.period_end:
            return False
        if self.valid_to is not None and self.valid_to <= context.period_start:
            return False
        return not (self.first_invoice_only and not context.first_invoice)


@dataclass(frozen=True)
class Discount:
    id: str
    name: str
    type: DiscountType
    priority: int
    percent: Decimal | None = None  # percentage
    amount: Decimal | None = None  # fixed, in the invoice's currency
    tiers: tuple[VolumeTier, ...] = ()  # volume, ascending from_amount
    applies_to: AppliesTo | None = None
    conditions: Conditions = field(default_factory=Conditions)
    stackable: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    assigned_tenants: int = 0
    """How many tenants have it assigned (kept by the store); 0: it applies to every eligible
    tenant."""

    def applies_to_tenant(self, assigned_to_tenant: bool) -> bool:
        """Whether one tenant gets it: assigned to that tenant, or assigned to no tenant."""
        return assigned_to_tenant or self.assigned_tenants == 0


@dataclass(frozen=True)
class ChargeAmount:
    """One charge line of the invoice, as a discount's ``applies_to`` sees it."""

    meter: str
    amount: Decimal
    filter: tuple[str, str] | None = None


@dataclass(frozen=True)
class DiscountContext:
    plan: str | None
    period_start: datetime
    period_end: datetime
    usage: Mapping[str, Decimal] = field(default_factory=dict)
    """Each meter's quantity over the period (for ``min_usage``)."""
    first_invoice: bool = False


@dataclass(frozen=True)
class DiscountLine:
    discount_id: str
    name: str
    amount: Decimal  # negative, unrounded
    base: Decimal  # what it was computed on


def _base(d: Discount, remaining: Decimal, charges: Sequence[ChargeAmount]) -> Decimal:
    if d.applies_to is None:
        return remaining
    scoped = sum((c.amount for c in charges if d.applies_to.covers(c)), ZERO)
    return min(scoped, remaining)


def _volume_percent(tiers: Sequence[VolumeTier], base: Decimal) -> Decimal:
    reached = [t.percent for t in tiers if base >= t.from_amount]
    return reached[-1] if reached else ZERO


def _off(d: Discount, base: Decimal) -> Decimal:
    if d.type is DiscountType.PERCENTAGE:
        return base * (d.percent or ZERO) / HUNDRED
    if d.type is DiscountType.FIXED:
        return d.amount or ZERO
    return base * _volume_percent(d.tiers, base) / HUNDRED


def apply_discounts(
    discounts: Sequence[Discount],
    subtotal: Decimal,
    charges: Sequence[ChargeAmount],
    context: DiscountContext,
) -> tuple[DiscountLine, ...]:
    """The discount lines, in the order applied. ``subtotal`` is before discounts; ``charges``
    are the charge lines (for ``applies_to``)."""
    lines: list[DiscountLine] = []
    remaining = subtotal
    for d in sorted(discounts, key=lambda d: (d.priority, d.id)):
        if not d.conditions.holds(subtotal, context):
            continue
        base = max(_base(d, remaining, charges), ZERO)
        off = min(max(_off(d, base), ZERO), base)
        if off > 0:
            lines.append(DiscountLine(d.id, d.name, -off, base))
            remaining -= off
        if not d.stackable:
            break
    return tuple(lines)


# ------------------------------------------------------------------ checks
def check_discount(d: Discount) -> list[FieldError]:
    """What the schema cannot say: the fields each type needs and only it takes, tiers in
    ascending order, percents up to 100, a validity window that is not empty."""
    return [*_check_type_fields(d), *_check_tiers(d.tiers), *_check_scope_and_conditions(d)]


def _check_type_fields(d: Discount) -> list[FieldError]:
    errors: list[FieldError] = []
    needs = {DiscountType.PERCENTAGE: "percent", DiscountType.FIXED: "amount", DiscountType.VOLUME: "tiers"}
    given = {"percent": d.percent is not None, "amount": d.amount is not None, "tiers": bool(d.tiers)}
    for name, present in given.items():
        if name == needs[d.type] and not present:
            errors.append(FieldError(name, f"is required for a {d.type.value} discount"))
        elif name != needs[d.type] and present:
            errors.append(FieldError(name, f"is only for a {_type_of(name)} discount"))
    if d.percent is not None and not ZERO <= d.percent <= HUNDRED:
        errors.append(FieldError("percent", "must be from 0 to 100"))
    if d.amount is not None and d.amount < 0:
        errors.append(FieldError("amount", "must not be negative"))
    return errors


def _check_tiers(tiers: Sequence[VolumeTier]) -> list[FieldError]:
    errors: list[FieldError] = []
    previous: Decimal | None = None
    for i, t in enumerate(tiers):
        if t.from_amount < 0:
            errors.append(FieldError(f"tiers[{i}].from_amount", "must not be negative"))
        elif previous is not None and t.from_amount <= previous:
            errors.append(FieldError(f"tiers[{i}].from_amount", "tiers must be in strictly ascending from_amount"))
        if not ZERO <= t.percent <= HUNDRED:
            errors.append(FieldError(f"tiers[{i}].percent", "must be from 0 to 100"))
        previous = t.from_amount
    return errors


def _check_scope_and_conditions(d: Discount) -> list[FieldError]:
    errors: list[FieldError] = []
    if d.applies_to is not None and not d.applies_to.meters and d.applies_to.filter is None:
        errors.append(FieldError("applies_to", "give meters, filter or both (or leave applies_to out)"))
    c = d.conditions
    if c.valid_from is not None and c.valid_to is not None and c.valid_to <= c.valid_from:
        errors.append(FieldError("conditions.valid_to", "must be after valid_from"))
    if c.min_subtotal is not None and c.min_subtotal < 0:
        errors.append(FieldError("conditions.min_subtotal", "must not be negative"))
    if c.min_usage is not None and c.min_usage.quantity < 0:
        errors.append(FieldError("conditions.min_usage.quantity", "must not be negative"))
    return errors


def _type_of(name: str) -> str:
    return {"percent": "percentage", "amount": "fixed", "tiers": "volume"}[name]


# ------------------------------------------------------------------ stored form
def discount_as_dict(d: Discount) -> dict[str, Any]:
    """The stored form (JSON-safe: decimals and datetimes as text)."""
    c = d.conditions
    return {
        "id": d.id,
        "name": d.name,
        "type": d.type.value,
        "priority": d.priority,
        "percent": None if d.percent is None else str(d.percent),
        "amount": None if d.amount is None else str(d.amount),
        "tiers": [{"from_amount": str(t.from_amount), "percent": str(t.percent)} for t in d.tiers],
        "applies_to": None
        if d.applies_to is None
        else {
            "meters": list(d.applies_to.meters),
            "filter": None if d.applies_to.filter is None else dict([d.applies_to.filter]),
        },
        "conditions": {
            "plans": list(c.plans),
            "min_subtotal": None if c.min_subtotal is None else str(c.min_subtotal),
            "min_usage": None
            if c.min_usage is None
            else {"meter": c.min_usage.meter, "quantity": str(c.min_usage.quantity)},
            "valid_from": None if c.valid_from is None else c.valid_from.isoformat(),
            "valid_to": None if c.valid_to is None else c.valid_to.isoformat(),
            "first_invoice_only": c.first_invoice_only,
        },
        "stackable": d.stackable,
    }


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def _at(v: Any) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v)


def discount_from_dict(
    raw: Mapping[str, Any],
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    assigned_tenants: int = 0,
) -> Discount:
    applies = raw.get("applies_to")
    c = raw.get("conditions") or {}
    mu = c.get("min_usage")
    flt = (applies or {}).get("filter")
    return Discount(
        id=raw["id"],
        name=raw["name"],
        type=DiscountType(raw["type"]),
        priority=int(raw["priority"]),
        percent=_dec(raw.get("percent")),
        amount=_dec(raw.get("amount")),
        tiers=tuple(
            VolumeTier(Decimal(str(t["from_amount"])), Decimal(str(t["percent"]))) for t in raw.get("tiers") or []
        ),
        applies_to=None
        if applies is None
        else AppliesTo(tuple(applies.get("meters") or ()), next(iter(flt.items())) if flt else None),
        conditions=Conditions(
            plans=tuple(c.get("plans") or ()),
            min_subtotal=_dec(c.get("min_subtotal")),
            min_usage=None if mu is None else MinUsage(mu["meter"], Decimal(str(mu["quantity"]))),
            valid_from=_at(c.get("valid_from")),
            valid_to=_at(c.get("valid_to")),
            first_invoice_only=bool(c.get("first_invoice_only", False)),
        ),
        stackable=bool(raw.get("stackable", True)),
        created_at=created_at,
        updated_at=updated_at,
        assigned_tenants=assigned_tenants,
    )
