"""Cross-tenant analytics roll-ups: operator days, interval buckets and the roll-up table's keys
(docs/analytics.md). Pure; no AWS.

An *operator day* is a calendar day in the operator's zone (``OperatorTimezone``), named by its
ISO date (``2026-11-20``); an operator month by ``2026-11``. A tenant's value for an operator
day is the sum of its hour counters whose windows *start* in that day, so a tenant in a zone
whose hours are not aligned with the operator's (``+05:30``) counts each hour on the day it
starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from .periods import Window, window_end, window_start
from .usage_query import CounterCell


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


LATE_DAYS = 36
"""How many local days back the job compares a tenant's day counters with what it rolled up:
the consumer accepts events up to 35 days old (domain.times.MAX_AGE), plus the current day."""


# ---------------------------------------------------------------- days and buckets
def day_key(d: date) -> str:
    return d.isoformat()


def month_key(d: date) -> str:
    return d.strftime("%Y-%m")


def midnight(d: date, tz: ZoneInfo) -> datetime:
    """The instant day ``d`` starts in ``tz`` (a midnight in a DST gap: the gap's end)."""
    start = window_start(datetime(d.year, d.month, d.day, 12, tzinfo=tz), Window.DAY, tz)
    assert start is not None
    return start


def local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def days(first: date, last: date) -> Iterator[date]:
    """Every date from ``first`` to ``last``, both included."""
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def bucket_of(d: date, interval: Interval) -> date:
    """The first day of the day, ISO week (Monday) or month holding ``d``."""
    if interval is Interval.WEEK:
        return d - timedelta(days=d.weekday())
    if interval is Interval.MONTH:
        return d.replace(day=1)
    return d


def next_bucket(start: date, interval: Interval) -> date:
    if interval is Interval.WEEK:
        return start + timedelta(days=7)
    if interval is Interval.MONTH:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


@dataclass(frozen=True)
class Bounds:
    """A query's range, snapped outwards to whole buckets of its interval in ``tz``: the first
    bucket's first day and the last bucket's last day (both included), and their instants."""

    first: date
    last: date
    start: datetime
    end: datetime


def snap(start: datetime, end: datetime, interval: Interval, tz: ZoneInfo) -> Bounds:
    """The buckets that overlap ``[start, end)``: ``start`` down to its bucket's start, ``end``
    up to the end of the bucket holding its last instant."""
    first = bucket_of(local_date(start, tz), interval)
    last_instant = end - timedelta(microseconds=1)
    after = next_bucket(bucket_of(local_date(last_instant, tz), interval), interval)
    last = after - timedelta(days=1)
    return Bounds(first, last, midnight(first, tz), midnight(after, tz))


@dataclass(frozen=True)
class Point:
    start: datetime
    end: datetime
    value: Decimal


def fold(values: Mapping[date, Decimal], bounds: Bounds, interval: Interval, tz: ZoneInfo) -> list[Point]:
    """Every bucket of ``bounds`` (zeros included), each the sum of its days' values."""
    points: list[Point] = []
    b = bounds.first
    while b <= bounds.last:
        nxt = next_bucket(b, interval)
        total = sum((values.get(d, Decimal(0)) for d in days(b, nxt - timedelta(days=1))), Decimal(0))
        points.append(Point(midnight(b, tz), midnight(nxt, tz), total))
        b = nxt
    return points


def whole_months(first: date, last: date) -> tuple[list[date], list[date]]:
    """A cover of the days ``first..last`` by whole calendar months (their first days) and the
    edge days left over: the fewest roll-up partitions that hold the range."""
    months: list[date] = []
    edges: list[date] = []
    d = first
    while d <= last:
        nxt = next_bucket(d.replace(day=1), Interval.MONTH)
        if d.day == 1 and nxt - timedelta(days=1) <= last:
            months.append(d)
            d = nxt
        else:
            edges.append(d)
            d += timedelta(days=1)
    return months, edges


# ---------------------------------------------------------------- the job's arithmetic
def changed_days(current: Mapping[str, Decimal], seen: Mapping[str, Decimal]) -> list[str]:
    """The keys of the tenant's day counters whose value differs from what was rolled up."""
    return sorted(k for k, v in current.items() if seen.get(k) != v)


def operator_days_of(local_start: datetime, tenant_tz: ZoneInfo, operator_tz: ZoneInfo) -> set[date]:
    """The operator days that the hours of the tenant's local day starting at ``local_start``
    fall in (one or two)."""
    end = window_end(local_start, Window.DAY, tenant_tz)
    assert end is not None
    first = local_date(local_start, operator_tz)
    last = local_date(end - timedelta(microseconds=1), operator_tz)
    return set(days(first, last))


def day_values(hours: Iterable[CounterCell], wanted: Iterable[date], operator_tz: ZoneInfo) -> dict[date, Decimal]:
    """Each wanted operator day's sum of the hour cells that start in it (0 without one)."""
    out = {d: Decimal(0) for d in wanted}
    for cell in hours:
        d = local_date(cell.window_start, operator_tz)
        if d in out and cell.value is not None:
            out[d] += cell.value
    return out


# ---------------------------------------------------------------- roll-up table keys
def day_pk(meter: str, day: str) -> str:
    """Every tenant's value of one operator day: ``sk`` = tenant."""
    return f"D#{meter}#{day}"


def tenant_pk(meter: str, tenant: str) -> str:
    """One tenant's operator days: ``sk`` = day."""
    return f"T#{meter}#{tenant}"


def series_pk(meter: str) -> str:
    """The all-tenant total of each operator day: ``sk`` = day."""
    return f"S#{meter}"


def plan_series_pk(meter: str) -> str:
    """Each plan's total of each operator day: ``sk`` = ``<day>#<plan>``."""
    return f"P#{meter}"


def month_pk(meter: str, month: str) -> str:
    """Every tenant's value of one operator month (``sk`` = tenant), ranked by the index."""
    return f"M#{meter}#{month}"


def seen_pk(meter: str, tenant: str) -> str:
    """The tenant's day counters as last rolled up (``sk`` = ``F``)."""
    return f"F#{meter}#{tenant}"
