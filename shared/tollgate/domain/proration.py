"""Plan changes inside a billing period: which plan was in force when, and each one's share.
Pure; no AWS.

A plan change (``PATCH /v1/tenants/{id}`` with ``plan``) takes effect at once for limits. For
billing, the period splits into segments, one per plan in force:

- **Base fee**: each plan's fee times its share of the period, to the second, measured in
  real elapsed time (a DST month in Europe/Paris has 743 or 745 hours, and a share is of
  those): ``fee x seconds on the plan / seconds in the period``.
- **Usage**: split at hours. The hour in which the plan changed, in the tenant's zone, is
  priced on the new plan; the hours before it on the old one (the counters keep hours, so a
  finer split would need raw events). A unique_count meter's distinct values do not split
  (they are counted by day and month), so the plan in force at the period's end prices the
  whole period's.

Vectors (OpenMeter, Lago): 100 USD over [Jan 1, Jan 16) of a 31-day January is 48.39, over
[Jan 1, Jan 11) 32.26; 1,000 JPY over 10 of 31 days is 323; a 50 USD plan from Aug 10 of a
31-day August is 22 days' worth, 35.48.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from . import periods
from .periods import Window

MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class PlanChange:
    at: datetime
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Segment:
    plan: str | None
    start: datetime  # exact, for the base fee's share
    end: datetime
    usage_start: datetime  # whole hours in the tenant's zone, for the counters
    usage_end: datetime

    def share(self, period_start: datetime, period_end: datetime) -> Decimal:
        """This segment's part of the period, exactly (elapsed microseconds over elapsed ones).
        In UTC: Python subtracts two times of one zone as wall clocks, which a DST change
        would make an hour off."""
        return Decimal(_elapsed(self.start, self.end)) / Decimal(_elapsed(period_start, period_end))


def _elapsed(start: datetime, end: datetime) -> int:
    return (end.astimezone(UTC) - start.astimezone(UTC)) // MICROSECOND


def _hour(moment: datetime, tz: ZoneInfo) -> datetime:
    start = periods.window_start(moment, Window.HOUR, tz)
    assert start is not None
    return start


def segments(
    current_plan: str | None, changes: Iterable[PlanChange], start: datetime, end: datetime, tz: ZoneInfo
) -> list[Segment]:
    """The period's plans in force, oldest first. ``changes`` are the tenant's plan changes at
    or after ``start`` (any order; those at or after ``end`` only tell the plan in force
    before them); ``current_plan`` is the plan now."""
    after_start = sorted((c for c in changes if c.at >= start), key=lambda c: c.at)
    plan = after_start[0].before if after_start else current_plan
    inside = [c for c in after_start if c.at < end]
    cuts: list[tuple[datetime, str | None]] = [(start, plan)] + [(c.at, c.after) for c in inside]
    out: list[Segment] = []
    for i, (at, plan_id) in enumerate(cuts):
        seg_end = cuts[i + 1][0] if i + 1 < len(cuts) else end
        usage_start = start if i == 0 else _hour(at, tz)
        usage_end = end if i + 1 == len(cuts) else _hour(seg_end, tz)
        out.append(Segment(plan_id, at, seg_end, usage_start, usage_end))
    return _merged([s for s in out if s.end > s.start])


def _merged(found: Sequence[Segment]) -> list[Segment]:
    """Neighbours on the same plan (a change and its undo) are one segment."""
    out: list[Segment] = []
    for s in found:
        if out and out[-1].plan == s.plan:
            last = out[-1]
            out[-1] = Segment(s.plan, last.start, s.end, last.usage_start, s.usage_end)
        else:
            out.append(s)
    return out
