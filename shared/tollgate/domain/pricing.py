"""Prices on plans: charges, their models, and what a quantity costs. Pure; no AWS.

A charge prices one meter's quantity over a billing period (or one value of one of its
``group_by`` dimensions, with ``filter``). Models:

- ``per_unit``: ``unit_amount`` per unit.
- ``graduated``: each unit in its own tier (``tiers``: ``up_to`` inclusive, null on the last;
  the lower bound is the previous ``up_to``); a tier's ``flat_amount`` is charged once the
  tier is entered, and the first tier's even at quantity 0 (as Stripe and Lago do).
- ``volume``: every unit at the tier the total reaches, plus that tier's flat amount.
- ``package``: ``package_amount`` per started package of ``package_size`` units.
- ``percentage``: ``rate`` percent of the meter's summed value, plus ``fixed_amount`` per event.
  Counters keep sums, not event counts, so a fixed amount names ``events_meter``: a ``count``
  meter of the same events, whose period total is the number of events.

Every charge takes ``free_units``, subtracted from the quantity before pricing (for package,
Lago's "first N free"). Amounts here are exact Decimals, unrounded: an invoice line rounds
once, to its currency's minor units (``round_money``), ROUND_HALF_UP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from .currency import minor_units
from .errors import FieldError, ValidationFailed
from .meters import Aggregation
from .numbers import as_decimal, json_number

MAX_CHARGES = 50
MAX_TIERS = 20
ZERO = Decimal(0)
ROUNDING = ROUND_HALF_UP
"""The one rounding mode for money: half away from zero, to the currency's minor units."""


class Model(str, Enum):
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"
    PERCENTAGE = "percentage"


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive; None on the last tier
    unit_amount: Decimal
    flat_amount: Decimal = ZERO


@dataclass(frozen=True)
class Charge:
    meter: str
    model: Model
    unit_amount: Decimal = ZERO
    tiers: tuple[Tier, ...] = ()
    package_size: Decimal = ZERO
    package_amount: Decimal = ZERO
    rate: Decimal = ZERO  # percent
    fixed_amount: Decimal = ZERO  # per event, percentage only
    events_meter: str | None = None  # percentage with a fixed amount: the count meter of its events
    free_units: Decimal = ZERO
    filter: tuple[str, str] | None = None  # (dimension, value)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe form with JSON numbers (``numbers.json_number``)."""
        return self._form(json_number)

    def _form(self, num: Callable[[Decimal], Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"meter": self.meter, "model": self.model.value}
        if self.model is Model.PER_UNIT:
            out["unit_amount"] = num(self.unit_amount)
        elif self.model in (Model.GRADUATED, Model.VOLUME):
            out["tiers"] = [
                {
                    "up_to": None if t.up_to is None else num(t.up_to),
                    "unit_amount": num(t.unit_amount),
                    "flat_amount": num(t.flat_amount),
                }
                for t in self.tiers
            ]
        elif self.model is Model.PACKAGE:
            out["package_size"] = num(self.package_size)
            out["package_amount"] = num(self.package_amount)
        else:
            out["rate"] = num(self.rate)
            out["fixed_amount"] = num(self.fixed_amount)
            out["events_meter"] = self.events_meter
        out["free_units"] = num(self.free_units)
        out["filter"] = {self.filter[0]: self.filter[1]} if self.filter else None
        return out

    def stored(self) -> dict[str, Any]:
        """The stored and audited form: every number as its decimal text, so no amount ever
        passes through a float (a JSON reader would make ``0.1`` a double)."""
        return self._form(decimal_text)

    @classmethod
    def from_stored(cls, d: Mapping[str, Any]) -> Charge:
        """A charge from its stored form (``stored``); trusts it (validated when written)."""
        flt = d.get("filter")
        fields: dict[str, Any] = {}
        for key in ("unit_amount", "package_size", "package_amount", "rate", "fixed_amount", "free_units"):
            if d.get(key) is not None:
                fields[key] = as_decimal(d[key])
        return cls(
            meter=d["meter"],
            model=Model(d["model"]),
            tiers=tuple(
                Tier(
                    None if t.get("up_to") is None else as_decimal(t["up_to"]),
                    as_decimal(t["unit_amount"]),
                    as_decimal(t.get("flat_amount") or 0),
                )
                for t in d.get("tiers") or ()
            ),
            filter=next(iter(flt.items())) if flt else None,
            events_meter=d.get("events_meter"),
            **fields,
        )


def decimal_text(d: Decimal) -> str:
    """An exact decimal as plain text, never in exponent form (``1E+3`` is ``"1000"``)."""
    return f"{d:f}"


# ------------------------------------------------------------------ pricing
@dataclass(frozen=True)
class TierPart:
    """One tier's share of a tiered charge: the invoice's tier breakdown."""

    tier: int  # 1-based
    quantity: Decimal
    unit_amount: Decimal
    flat_amount: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Priced:
    quantity: Decimal  # the meter's quantity for the period
    billable: Decimal  # after free units
    amount: Decimal  # exact, not rounded
    tiers: tuple[TierPart, ...] = ()


def price(charge: Charge, quantity: Decimal, *, events: int = 0) -> Priced:
    """What ``quantity`` (for ``percentage``: the summed value; ``events``: how many events
    made it) costs under ``charge``, exactly."""
    billable = max(ZERO, quantity - charge.free_units)
    if charge.model is Model.PER_UNIT:
        return Priced(quantity, billable, billable * charge.unit_amount)
    if charge.model is Model.GRADUATED:
        parts = _graduated(charge.tiers, billable)
        return Priced(quantity, billable, sum((p.amount for p in parts), ZERO), parts)
    if charge.model is Model.VOLUME:
        part = _volume(charge.tiers, billable)
        return Priced(quantity, billable, part.amount, (part,))
    if charge.model is Model.PACKAGE:
        packages = (billable / charge.package_size).to_integral_value(ROUND_CEILING)
        return Priced(quantity, billable, packages * charge.package_amount)
    return Priced(quantity, billable, billable * charge.rate / 100 + charge.fixed_amount * events)


def _lower_bounds(tiers: Sequence[Tier]) -> list[Decimal]:
    return [ZERO] + [t.up_to for t in tiers[:-1] if t.up_to is not None]


def _graduated(tiers: Sequence[Tier], quantity: Decimal) -> tuple[TierPart, ...]:
    parts = []
    for i, (tier, low) in enumerate(zip(tiers, _lower_bounds(tiers), strict=True)):
        if i > 0 and quantity <= low:
            break  # not entered: neither its units nor its flat amount
        high = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = max(ZERO, high - low)
        parts.append(
            TierPart(i + 1, units, tier.unit_amount, tier.flat_amount, units * tier.unit_amount + tier.flat_amount)
        )
    return tuple(parts)


def _volume(tiers: Sequence[Tier], quantity: Decimal) -> TierPart:
    """The tier the total reaches (the last one past every ``up_to``) prices every unit."""
    index = next((i for i, t in enumerate(tiers) if t.up_to is None or quantity <= t.up_to), len(tiers) - 1)
    tier = tiers[index]
    return TierPart(
        index + 1, quantity, tier.unit_amount, tier.flat_amount, quantity * tier.unit_amount + tier.flat_amount
    )


# ------------------------------------------------------------------ money
def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` to the currency's minor units (ISO 4217: JPY 0, USD 2, KWD 3), ROUND_HALF_UP."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUNDING)


def money_text(amount: Decimal, currency: str) -> str:
    """Money in JSON: a decimal string with exactly the currency's minor digits (``"41.50"``,
    ``"500"`` for JPY, ``"0.375"`` for KWD)."""
    return f"{round_money(amount, currency):f}"


# ------------------------------------------------------------------ parsing and validation
class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.items.append(FieldError(field, message))


def _amount(raw: Mapping[str, Any], key: str, where: str, errors: _Errors, *, required: bool = False) -> Decimal:
    value = raw.get(key)
    if value is None:
        if required:
            errors.add(f"{where}.{key}", "is required")
        return ZERO
    if isinstance(value, bool):
        errors.add(f"{where}.{key}", "must be a number")
        return ZERO
    try:
        d = as_decimal(value)
    except (ValueError, ArithmeticError):
        errors.add(f"{where}.{key}", "must be a number")
        return ZERO
    if not d.is_finite():
        errors.add(f"{where}.{key}", "must be a finite number")
        return ZERO
    if d < 0:
        errors.add(f"{where}.{key}", "must not be negative")
        return ZERO
    return d


def _tiers(raw: Any, where: str, errors: _Errors) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        errors.add(f"{where}.tiers", "must be a non-empty list of tiers")
        return ()
    if len(raw) > MAX_TIERS:
        errors.add(f"{where}.tiers", f"at most {MAX_TIERS} tiers")
        return ()
    tiers: list[Tier] = []
    previous = ZERO
    for j, t in enumerate(raw):
        at = f"{where}.tiers[{j}]"
        if not isinstance(t, dict):
            errors.add(at, "must be an object")
            continue
        up_to: Decimal | None = None
        if t.get("up_to") is None:
            if j != len(raw) - 1:
                errors.add(f"{at}.up_to", "only the last tier may have no upper bound (null)")
        else:
            up_to = _amount(t, "up_to", at, errors)
            if up_to <= previous:
                errors.add(f"{at}.up_to", "tiers must be in ascending order, each above the previous up_to")
            previous = max(previous, up_to)
        if j == len(raw) - 1 and t.get("up_to") is not None:
            errors.add(f"{at}.up_to", "the last tier must have up_to null (it takes every unit above)")
        tiers.append(
            Tier(up_to, _amount(t, "unit_amount", at, errors, required=True), _amount(t, "flat_amount", at, errors))
        )
    return tuple(tiers)


def _filter(raw: Any, where: str, group_by: Sequence[str], errors: _Errors) -> tuple[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        errors.add(f"{where}.filter", "must be an object of one dimension and its value")
        return None
    ((dimension, value),) = raw.items()
    if dimension not in group_by:
        errors.add(f"{where}.filter", f"{dimension!r} is not one of the meter's group_by dimensions")
        return None
    if not isinstance(value, str) or not value:
        errors.add(f"{where}.filter.{dimension}", "must be a non-empty string")
        return None
    return dimension, value


def _model_fields(charge: Mapping[str, Any], model: Model, where: str, errors: _Errors) -> dict[str, Any]:
    if model is Model.PER_UNIT:
        return {"unit_amount": _amount(charge, "unit_amount", where, errors, required=True)}
    if model in (Model.GRADUATED, Model.VOLUME):
        return {"tiers": _tiers(charge.get("tiers"), where, errors)}
    if model is Model.PACKAGE:
        size = _amount(charge, "package_size", where, errors, required=True)
        if size == 0 and charge.get("package_size") is not None:
            errors.add(f"{where}.package_size", "must be above 0")
        return {"package_size": size, "package_amount": _amount(charge, "package_amount", where, errors, required=True)}
    return {
        "rate": _amount(charge, "rate", where, errors, required=True),
        "fixed_amount": _amount(charge, "fixed_amount", where, errors),
        "events_meter": charge.get("events_meter"),
    }


def _check_events_meter(
    charge: Charge, where: str, meters: Mapping[str, tuple[Aggregation, Sequence[str]]], errors: _Errors
) -> None:
    """A percentage charge's fixed amount per event needs the number of events: the period
    total of a count meter (the counters keep a sum meter's sum, not how many events made it)."""
    if charge.model is not Model.PERCENTAGE:
        return
    name = charge.events_meter
    if name is None:
        if charge.fixed_amount > 0:
            errors.add(f"{where}.events_meter", "a fixed_amount per event needs the count meter of those events")
        return
    known = meters.get(name) if isinstance(name, str) else None
    if known is None or known[0] is not Aggregation.COUNT:
        errors.add(f"{where}.events_meter", f"must name a meter whose aggregation is count, not {name!r}")


def parse_charges(raw: Any, meters: Mapping[str, tuple[Aggregation, Sequence[str]]]) -> tuple[Charge, ...]:
    """Charges from a plan's JSON; ``meters`` gives each known meter's aggregation and group_by.
    ValidationFailed naming every bad field (``charges[1].tiers[0].up_to``)."""
    if raw is None:
        return ()
    errors = _Errors()
    if not isinstance(raw, list):
        raise ValidationFailed("charges must be a list", [FieldError("charges", "must be a list")])
    if len(raw) > MAX_CHARGES:
        raise ValidationFailed("too many charges", [FieldError("charges", f"at most {MAX_CHARGES} charges")])
    charges: list[tuple[int, Charge]] = []
    for i, c in enumerate(raw):
        where = f"charges[{i}]"
        if not isinstance(c, dict):
            errors.add(where, "must be an object")
            continue
        charge = _charge(c, where, meters, errors)
        if charge is not None:
            charges.append((i, charge))
    _check_overlaps(charges, errors, meters)
    if errors.items:
        raise ValidationFailed("invalid charges", errors.items)
    return tuple(c for _, c in charges)


def _charge(
    c: Mapping[str, Any], where: str, meters: Mapping[str, tuple[Aggregation, Sequence[str]]], errors: _Errors
) -> Charge | None:
    meter = c.get("meter")
    known = meters.get(meter) if isinstance(meter, str) else None
    if known is None:
        errors.add(f"{where}.meter", f"unknown meter {meter!r}")
    try:
        model = Model(c.get("model"))
    except ValueError:
        errors.add(f"{where}.model", f"must be one of {', '.join(m.value for m in Model)}")
        return None
    aggregation, group_by = known if known is not None else (Aggregation.SUM, ())
    if model is Model.PERCENTAGE and known is not None and aggregation is not Aggregation.SUM:
        errors.add(f"{where}.model", "percentage prices a summed value: the meter's aggregation must be sum")
    fields = _model_fields(c, model, where, errors)
    free = _amount(c, "free_units", where, errors)
    flt = _filter(c.get("filter"), where, group_by, errors)
    if known is None or not isinstance(meter, str):
        return None
    charge = Charge(meter=meter, model=model, free_units=free, filter=flt, **fields)
    _check_events_meter(charge, where, meters, errors)
    return charge


def _check_overlaps(
    charges: Sequence[tuple[int, Charge]], errors: _Errors, meters: Mapping[str, tuple[Aggregation, Sequence[str]]]
) -> None:
    """Per meter: at most one unfiltered charge, and filtered charges on one dimension with
    distinct values (filters on two dimensions could both match one event). An unfiltered
    charge beside filtered ones prices the remainder, the total minus the filtered
    quantities: exact for sum and count only (a maximum or a distinct count does not split)."""
    seen: dict[str, list[tuple[int, Charge]]] = {}
    for i, charge in charges:
        seen.setdefault(charge.meter, []).append((i, charge))
    for meter, same in seen.items():
        unfiltered = [i for i, c in same if c.filter is None]
        for i in unfiltered[1:]:
            errors.add(f"charges[{i}].filter", "another charge already prices this meter unfiltered")
        additive = meters[meter][0] in (Aggregation.SUM, Aggregation.COUNT)
        if unfiltered and not additive and len(unfiltered) < len(same):
            errors.add(
                f"charges[{unfiltered[0]}].filter",
                "an unfiltered charge beside filtered ones prices what they leave: sum and count meters only",
            )
        filtered = [(i, c.filter) for i, c in same if c.filter is not None]
        dimensions = {f[0] for _, f in filtered}
        values: set[str] = set()
        for i, f in filtered:
            if len(dimensions) > 1:
                errors.add(
                    f"charges[{i}].filter", "filters on one meter must use the same dimension (else they overlap)"
                )
            elif f[1] in values:
                errors.add(f"charges[{i}].filter", f"{f[0]}={f[1]!r} is already priced by another charge")
            values.add(f[1])
