"""Plans and limits. Pure; no AWS.

A *limit* caps one meter over one window (minute, hour, day, month - in the tenant's zone -
or lifetime). A *plan* is a named set of limits plus an API rate limit; a tenant's
*effective* limits are its plan's with the tenant's overrides applied (an override replaces
the plan's limit for the same meter and window, or adds one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from .currency import is_currency
from .errors import FieldError
from .meters import Aggregation
from .numbers import as_decimal, json_number
from .periods import UNIQUE_WINDOWS, Window
from .pricing import ZERO, Charge, decimal_text

WINDOW_ORDER = {w: i for i, w in enumerate((Window.MINUTE, Window.HOUR, Window.DAY, Window.MONTH, Window.LIFETIME))}
DEFAULT_THRESHOLDS: tuple[Decimal, ...] = (Decimal("0.8"), Decimal("1.0"))
MAX_LIMITS = 50
MAX_THRESHOLDS = 10
MAX_LIMIT_VALUE = Decimal("1e30")
DEFAULT_CURRENCY = "USD"


class Enforcement(str, Enum):
    HARD = "hard"
    SOFT = "soft"


@dataclass(frozen=True)
class Limit:
    meter: str
    window: Window
    limit: Decimal
    enforcement: Enforcement = Enforcement.HARD
    thresholds: tuple[Decimal, ...] = DEFAULT_THRESHOLDS

    @property
    def key(self) -> tuple[str, Window]:
        return self.meter, self.window

    @property
    def hard(self) -> bool:
        return self.enforcement is Enforcement.HARD

    def as_dict(self) -> dict[str, Any]:
        """The stored form (plans and overrides) and the audit trail's view (JSON-safe)."""
        return {
            "meter": self.meter,
            "window": self.window.value,
            "limit": json_number(self.limit),
            "enforcement": self.enforcement.value,
            "thresholds": [json_number(t) for t in self.thresholds],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Limit:
        thresholds = d.get("thresholds")
        return cls(
            meter=d["meter"],
            window=Window(d["window"]),
            limit=as_decimal(d["limit"]),
            enforcement=Enforcement(d.get("enforcement") or "hard"),
            thresholds=DEFAULT_THRESHOLDS if thresholds is None else tuple(as_decimal(t) for t in thresholds),
        )


def sort_limits(limits: Iterable[Limit]) -> list[Limit]:
    return sorted(limits, key=lambda lim: (lim.meter, WINDOW_ORDER[lim.window]))


def duplicate_keys(limits: Sequence[Limit]) -> list[int]:
    """Indexes of limits repeating an earlier (meter, window)."""
    seen: set[tuple[str, Window]] = set()
    out = []
    for i, lim in enumerate(limits):
        if lim.key in seen:
            out.append(i)
        seen.add(lim.key)
    return out


def uncounted_windows(limits: Sequence[Limit], aggregation_of: Callable[[str], Aggregation | None]) -> list[FieldError]:
    """Limits on windows their meter is not counted in: a unique_count meter is counted by
    day, month and lifetime only (``periods.UNIQUE_WINDOWS``). ``aggregation_of`` gives an
    existing meter's aggregation (None: no such meter yet, nothing to check)."""
    return [
        FieldError(f"limits[{i}].window", "must be day, month or lifetime for a unique_count meter")
        for i, lim in enumerate(limits)
        if lim.window not in UNIQUE_WINDOWS and aggregation_of(lim.meter) is Aggregation.UNIQUE_COUNT
    ]


@dataclass(frozen=True)
class ApiRateLimit:
    """Token bucket: ``per_second`` sustained, ``burst`` at once."""

    per_second: Decimal
    burst: int

    def as_dict(self) -> dict[str, Any]:
        return {"per_second": json_number(self.per_second), "burst": self.burst}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ApiRateLimit | None:
        if not d:
            return None
        return cls(per_second=as_decimal(d["per_second"]), burst=int(d["burst"]))


@dataclass(frozen=True)
class Plan:
    """A plan's limits and its prices (``domain.pricing``): ``base_fee`` per billing period,
    an optional ``minimum_commitment`` per period, and ``charges`` in ``currency``. A plan made
    before prices has the defaults: USD, no fee, no commitment, no charges."""

    id: str
    name: str
    limits: tuple[Limit, ...]
    api_rate_limit: ApiRateLimit | None
    created_at: datetime
    updated_at: datetime
    currency: str = DEFAULT_CURRENCY
    base_fee: Decimal = ZERO
    minimum_commitment: Decimal | None = None
    charges: tuple[Charge, ...] = ()
    late_fee: LateFee | None = None

    def as_dict(self) -> dict[str, Any]:
        """The audit trail's view of a plan (JSON-safe; amounts as decimal text)."""
        return {
            "id": self.id,
            "name": self.name,
            "limits": [lim.as_dict() for lim in self.limits],
            "api_rate_limit": self.api_rate_limit.as_dict() if self.api_rate_limit else None,
            **self.prices_stored(),
        }

    def prices_stored(self) -> dict[str, Any]:
        """The prices as stored and audited: every amount as its decimal text."""
        return {
            "currency": self.currency,
            "base_fee": decimal_text(self.base_fee),
            "minimum_commitment": None if self.minimum_commitment is None else decimal_text(self.minimum_commitment),
            "charges": [c.stored() for c in self.charges],
            "late_fee": self.late_fee.stored() if self.late_fee else None,
        }


@dataclass(frozen=True)
class LateFee:
    """A plan's late-fee policy: an invoice overdue for ``after_days`` accrues one fee, once:
    ``value`` percent of what is due then (``percentage``), or ``value`` (``fixed``)."""

    type: Literal["percentage", "fixed"]
    value: Decimal
    after_days: int

    def stored(self) -> dict[str, Any]:
        return {"type": self.type, "value": decimal_text(self.value), "after_days": self.after_days}

    @classmethod
    def from_stored(cls, d: dict[str, Any] | None) -> LateFee | None:
        if not d:
            return None
        return cls(d["type"], Decimal(d["value"]), int(d["after_days"]))

    def errors(self) -> list[FieldError]:
        out = []
        if not self.value.is_finite() or self.value < 0:
            out.append(FieldError("late_fee.value", "must be a finite number, not negative"))
        elif self.type == "percentage" and self.value > 100:
            out.append(FieldError("late_fee.value", "a percentage is at most 100"))
        if not 0 <= self.after_days <= 365:
            out.append(FieldError("late_fee.after_days", "must be 0 to 365"))
        return out


def price_errors(currency: str, base_fee: Decimal, minimum_commitment: Decimal | None) -> list[FieldError]:
    """A plan's currency (ISO 4217) and its fee and commitment (finite, not negative)."""
    errors = []
    if not is_currency(currency):
        errors.append(FieldError("currency", f"{currency!r} is not an ISO 4217 currency code"))
    for field, amount in (("base_fee", base_fee), ("minimum_commitment", minimum_commitment)):
        if amount is None:
            continue
        if not amount.is_finite():
            errors.append(FieldError(field, "must be a finite number"))
        elif amount < 0:
            errors.append(FieldError(field, "must not be negative"))
    return errors


@dataclass(frozen=True)
class EffectiveLimit:
    limit: Limit
    source: Literal["plan", "override"]


def effective_limits(plan_limits: Iterable[Limit], overrides: Iterable[Limit]) -> list[EffectiveLimit]:
    """The plan's limits with each override replacing the plan's limit of the same meter and
    window (or adding one), sorted by meter then window."""
    merged: dict[tuple[str, Window], EffectiveLimit] = {lim.key: EffectiveLimit(lim, "plan") for lim in plan_limits}
    for lim in overrides:
        merged[lim.key] = EffectiveLimit(lim, "override")
    return sorted(merged.values(), key=lambda e: (e.limit.meter, WINDOW_ORDER[e.limit.window]))
