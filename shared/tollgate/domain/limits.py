"""Plans, limits, quota states and the consume decision. Pure; no AWS.

A *limit* caps one meter over one window (minute, hour, day, month - in the tenant's zone -
or lifetime). A *plan* is a named set of limits plus an API rate limit; a tenant's
*effective* limits are its plan's with the tenant's overrides applied (an override replaces
the plan's limit for the same meter and window, or adds one).

The consume decision works on the counters the consumer maintains (``used`` counts events
and consumes alike). A hard limit admits an amount ``n`` only while ``used + n <= limit``;
DynamoDB conditions cannot add, so the write carries ``v <= limit - n`` (``write_ceiling``).
A soft limit always admits and flags the overshoot.

The RateLimit headers follow draft-ietf-httpapi-ratelimit-headers (RFC 8941 structured
fields): ``RateLimit-Policy: "<name>";q=<limit>;w=<seconds>`` and
``RateLimit: "<name>";r=<remaining>;t=<seconds to reset>``, one list member per limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from .periods import Window, window_end, window_start

WINDOW_ORDER = {w: i for i, w in enumerate((Window.MINUTE, Window.HOUR, Window.DAY, Window.MONTH, Window.LIFETIME))}
DEFAULT_THRESHOLDS: tuple[Decimal, ...] = (Decimal("0.8"), Decimal("1.0"))
MAX_LIMITS = 50
MAX_THRESHOLDS = 10
MAX_LIMIT_VALUE = Decimal("1e30")
SF_INTEGER_MAX = 999_999_999_999_999  # RFC 8941 sf-integer: at most 15 digits

LIFETIME_RETRY_AFTER_S = 86_400
"""A lifetime limit never resets; a denial against it says "ask again in a day" (the operator
must raise the limit), because a 429 always carries Retry-After."""


class Enforcement(str, Enum):
    HARD = "hard"
    SOFT = "soft"


class Status(str, Enum):
    HEALTHY = "healthy"
    CAUTION = "caution"
    WARNING = "warning"
    CRITICAL = "critical"


def status_for(ratio: Decimal) -> Status:
    """< 0.75 healthy, 0.75 to < 0.9 caution, 0.9 to < 1.0 warning, >= 1.0 critical."""
    if ratio < Decimal("0.75"):
        return Status.HEALTHY
    if ratio < Decimal("0.9"):
        return Status.CAUTION
    if ratio < Decimal("1"):
        return Status.WARNING
    return Status.CRITICAL


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


# ------------------------------------------------------------------ limits and plans
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

    @property
    def name(self) -> str:
        """The policy name in the RateLimit headers: ``<meter>.<window>``."""
        return f"{self.meter}.{self.window.value}"

    def as_dict(self) -> dict[str, Any]:
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
            limit=_dec(d["limit"]),
            enforcement=Enforcement(d.get("enforcement") or "hard"),
            thresholds=DEFAULT_THRESHOLDS if thresholds is None else tuple(_dec(t) for t in thresholds),
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
        return cls(per_second=_dec(d["per_second"]), burst=int(d["burst"]))


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    limits: tuple[Limit, ...]
    api_rate_limit: ApiRateLimit | None
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The audit trail's view of a plan (JSON-safe)."""
        return {
            "id": self.id,
            "name": self.name,
            "limits": [lim.as_dict() for lim in self.limits],
            "api_rate_limit": self.api_rate_limit.as_dict() if self.api_rate_limit else None,
        }


@dataclass(frozen=True)
class EffectiveLimit:
    limit: Limit
    source: str  # "plan" | "override"


def effective_limits(plan_limits: Iterable[Limit], overrides: Iterable[Limit]) -> list[EffectiveLimit]:
    """The plan's limits with each override replacing the plan's limit of the same meter and
    window (or adding one), sorted by meter then window."""
    merged: dict[tuple[str, Window], EffectiveLimit] = {lim.key: EffectiveLimit(lim, "plan") for lim in plan_limits}
    for lim in overrides:
        merged[lim.key] = EffectiveLimit(lim, "override")
    return sorted(merged.values(), key=lambda e: (e.limit.meter, WINDOW_ORDER[e.limit.window]))


# ------------------------------------------------------------------ windows and states
@dataclass(frozen=True)
class WindowBounds:
    start: datetime | None  # None for lifetime
    end: datetime | None  # the reset instant; None for lifetime

    def seconds(self) -> int | None:
        """Length of the window (a DST day is 23 or 25 hours; a month 28 to 31 days)."""
        if self.start is None or self.end is None:
            return None
        # In UTC: subtracting two datetimes of one zone is wall-clock arithmetic in Python.
        return int((self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds())

    def seconds_left(self, now: datetime) -> int | None:
        """Whole seconds until the reset, rounded up, at least 0."""
        if self.end is None:
            return None
        return max(0, math.ceil((self.end.astimezone(UTC) - now.astimezone(UTC)).total_seconds()))


def bounds(at: datetime, window: Window, tz: ZoneInfo) -> WindowBounds:
    start = window_start(at, window, tz)
    return WindowBounds(start, None if start is None else window_end(start, window, tz))


@dataclass(frozen=True)
class LimitState:
    """A limit and its counter's value in the window holding the decision's time."""

    limit: Limit
    used: Decimal
    window: WindowBounds

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.limit.limit - self.used)

    @property
    def ratio(self) -> Decimal:
        if self.limit.limit <= 0:
            return Decimal(1)  # nothing allowed: always critical
        return self.used / self.limit.limit

    @property
    def percent(self) -> Decimal:
        return (self.ratio * 100).quantize(Decimal("0.01"))

    @property
    def status(self) -> Status:
        return status_for(self.ratio)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit.limit

    def after(self, amount: Decimal) -> LimitState:
        return LimitState(self.limit, self.used + amount, self.window)


# ------------------------------------------------------------------ the decision
class Reason(str, Enum):
    QUOTA_EXCEEDED = "quota_exceeded"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    blocking: tuple[LimitState, ...] = ()  # hard limits that deny (before the amount)
    soft_over: tuple[LimitState, ...] = ()  # soft limits this amount overshoots

    @property
    def reason(self) -> Reason | None:
        return None if self.allowed else Reason.QUOTA_EXCEEDED


def too_big(amount: Decimal, limits: Iterable[Limit]) -> list[Limit]:
    """Hard limits the amount exceeds on its own: denied at once, whatever the usage."""
    return [lim for lim in limits if lim.hard and amount > lim.limit]


def judge(amount: Decimal, states: Sequence[LimitState]) -> Verdict:
    """The decision on ``states`` (values before this amount).

    ``amount == 0`` is a check: allowed while ``used < limit`` on every hard limit. Otherwise
    allowed when ``used + amount <= limit`` on every hard limit; soft limits never deny."""
    if amount == 0:
        blocking = tuple(s for s in states if s.limit.hard and s.used >= s.limit.limit)
        return Verdict(not blocking, blocking)
    blocking = tuple(s for s in states if s.limit.hard and s.used + amount > s.limit.limit)
    soft = tuple(s for s in states if not s.limit.hard and s.used + amount > s.limit.limit)
    return Verdict(not blocking, blocking, soft)


def write_ceiling(limit: Limit, amount: Decimal) -> Decimal:
    """The largest stored value that still admits ``amount``: the condition is
    ``attribute_not_exists(v) OR v <= limit - amount`` (conditions cannot add)."""
    return limit.limit - amount


# ------------------------------------------------------------------ headers
def _sf_string(text: str) -> str:
    if any(not 0x20 <= ord(c) <= 0x7E for c in text):
        raise ValueError(f"{text!r} is not printable ASCII")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sf_int(value: Decimal | int) -> int:
    """A non-negative RFC 8941 integer: fractions round down, and at most 15 digits."""
    whole = int(_dec(value).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(SF_INTEGER_MAX, whole))


@dataclass(frozen=True)
class HeaderPolicy:
    """One member of the RateLimit lists."""

    name: str
    quota: Decimal | int
    window_s: int | None
    remaining: Decimal | int
    reset_s: int | None


def ratelimit_headers(policies: Sequence[HeaderPolicy], retry_after_s: int | None = None) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` (and ``Retry-After`` when given). A policy with
    no window (lifetime) has no ``w`` and no ``t``."""
    headers: dict[str, str] = {}
    if policies:
        pol, cur = [], []
        for p in policies:
            name = _sf_string(p.name)
            pol.append(f"{name};q={_sf_int(p.quota)}" + (f";w={p.window_s}" if p.window_s is not None else ""))
            cur.append(f"{name};r={_sf_int(p.remaining)}" + (f";t={p.reset_s}" if p.reset_s is not None else ""))
        headers["RateLimit-Policy"] = ", ".join(pol)
        headers["RateLimit"] = ", ".join(cur)
    if retry_after_s is not None:
        headers["Retry-After"] = str(max(1, int(retry_after_s)))
    return headers


def ceil_seconds(seconds: float) -> int:
    return max(1, int(Decimal(str(seconds)).to_integral_value(rounding=ROUND_CEILING)))


# ------------------------------------------------------------------ the decision document
def json_number(d: Decimal) -> int | float | str:
    """Integers stay exact; a fraction becomes a double when that is exact, else decimal text
    (stored limits never lose a digit)."""
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    return f if Decimal(repr(f)) == d else str(d)


def limit_entry(state: LimitState, tz: ZoneInfo, exceeded: bool) -> dict[str, Any]:
    """One member of a decision's ``limits`` (JSON-safe)."""
    return {
        "meter": state.limit.meter,
        "window": state.limit.window.value,
        "limit": json_number(state.limit.limit),
        "used": json_number(state.used),
        "remaining": json_number(state.remaining),
        "resets_at": None if state.window.end is None else state.window.end.astimezone(tz).isoformat(),
        "enforcement": state.limit.enforcement.value,
        "exceeded": exceeded,
    }


def decision_doc(allowed: bool, states: Sequence[LimitState], exceeded: set[tuple[str, Window]], tz: ZoneInfo) -> dict:
    """The decision as stored on the dedupe marker and answered (again) to a retry.

    ``states`` hold the values the decision saw *after* the amount when allowed, before it
    when denied; ``w`` (window lengths, for the headers) is not part of the answer."""
    return {
        "allowed": allowed,
        "reason": None if allowed else Reason.QUOTA_EXCEEDED.value,
        "limits": [limit_entry(s, tz, s.limit.key in exceeded) for s in states],
        "w": [s.window.seconds() for s in states],
    }


def _seconds_until(iso: str | None, now: datetime) -> int | None:
    if iso is None:
        return None
    return max(0, math.ceil((datetime.fromisoformat(iso).astimezone(UTC) - now.astimezone(UTC)).total_seconds()))


def doc_retry_after(doc: dict[str, Any], now: datetime) -> int | None:
    """Retry-After of a denial: until every exceeded hard limit has reset."""
    if doc.get("allowed"):
        return None
    waits = []
    for e in doc["limits"]:
        if e["exceeded"] and e["enforcement"] == Enforcement.HARD.value:
            left = _seconds_until(e["resets_at"], now)
            waits.append(LIFETIME_RETRY_AFTER_S if left is None else left)
    return max(1, max(waits, default=1))


def doc_headers(doc: dict[str, Any], now: datetime) -> dict[str, str]:
    """RateLimit-Policy, RateLimit (and Retry-After for a denial) of a decision, with
    ``t`` counted from ``now`` (a replay answers the original decision with a fresh ``t``)."""
    windows = doc.get("w") or [None] * len(doc["limits"])
    policies = [
        HeaderPolicy(
            name=f"{e['meter']}.{e['window']}",
            quota=_dec(e["limit"]),
            window_s=w,
            remaining=_dec(e["remaining"]),
            reset_s=_seconds_until(e["resets_at"], now),
        )
        for e, w in zip(doc["limits"], windows, strict=True)
    ]
    return ratelimit_headers(policies, doc_retry_after(doc, now))
