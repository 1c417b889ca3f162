"""Quota judgement: a limit's state in the window holding an instant, and the verdict on an
amount. Pure; no AWS.

The decision works on the counters the consumer maintains (``used`` counts events and
consumes alike). A hard limit admits an amount ``n`` only while ``used + n <= limit``;
DynamoDB conditions cannot add, so the write carries ``v <= limit - n`` (``write_ceiling``).
A soft limit always admits and flags the overshoot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from zoneinfo import ZoneInfo

from .periods import Window, window_end, window_start
from .plans import Limit


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


# ------------------------------------------------------------------ the verdict
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
