"""The daily reconciliation's rules: which local days a run covers, which activity hours
cover them, and the ``system.counter_drift`` alert. Pure; no AWS (docs/alerts.md, "Reconciliation").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .numbers import json_number
from .periods import Window, format_instant, utc_key, window_end, window_start

HOUR = timedelta(hours=1)
RUN_PERIOD = timedelta(days=1)
"""The job runs once a day: each run covers the local days that ended since the one before."""

SETTLE = timedelta(days=1)
"""Activity read past a day's end. The index marks the hour a counter *changed*, not the
event's time: a day's last events, a backlog, or back-dated events are counted after the day
ended. A run reads each day's activity up to the run (at most this long after the day's end,
which is always past the run that covers it), so a pair whose day changed before the run is
checked."""

DRIFT_TYPE = "system.counter_drift"

_DECIMAL = Context(prec=38)  # DynamoDB's 38 digits (Python's default context rounds at 28)


def hour_floor(at: datetime) -> datetime:
    """The UTC hour holding ``at``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: times must carry a zone")
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hours_between(start: datetime, end: datetime) -> Iterator[datetime]:
    """The UTC hours that overlap ``[start, end)``, oldest first."""
    hour = hour_floor(start)
    while hour < end:
        yield hour
        hour += HOUR


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days that overlap ``[start, end)``: the raw-event log's partitions of a range."""
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class LocalDay:
    """One day in a tenant's zone: ``[start, end)``, aware in the zone (23 to 25 hours)."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The day counter's sort key (``periods.utc_key`` of the start)."""
        return utc_key(self.start)

    def activity_hours(self, now: datetime) -> tuple[datetime, datetime]:
        """The activity to read for this day: from its first UTC hour to ``now`` (the run), but
        no more than ``SETTLE`` after its end."""
        return hour_floor(self.start), min(self.end.astimezone(UTC) + SETTLE, now)  # elapsed, not wall time


def day_of(d: date, tz: ZoneInfo) -> LocalDay:
    """The local day ``d`` in ``tz`` (noon always exists, so its window is the day)."""
    start = window_start(datetime(d.year, d.month, d.day, 12, tzinfo=tz), Window.DAY, tz)
    assert start is not None
    end = window_end(start, Window.DAY, tz)
    assert end is not None
    return LocalDay(start, end)


def days_ended(tz: ZoneInfo, after: datetime, until: datetime) -> list[LocalDay]:
    """The local days of ``tz`` that ended in ``(after, until]``, oldest first.

    A run covers the days that ended since the previous run (``after = until - RUN_PERIOD``):
    one day per run in almost every zone, but a zone whose midnight moves across the run time
    at a DST change has a run with two days and a run with none, and no day is left out."""
    local = until.astimezone(tz).date()
    days = (day_of(local - timedelta(days=i), tz) for i in (3, 2, 1, 0))
    return [d for d in days if after < d.end <= until]


def run_window(as_of: datetime) -> tuple[datetime, datetime]:
    """Every instant whose activity hour any zone's covered day may need: the earliest day
    start (a 25-hour day that ended just after ``as_of - RUN_PERIOD``) to ``SETTLE`` after the
    latest day end (``as_of``); the caller stops at now."""
    at = as_of.astimezone(UTC)
    return at - RUN_PERIOD - timedelta(hours=25), at + SETTLE


# ------------------------------------------------------------------ the alert
def plain(value: Decimal) -> str:
    """A number's canonical text (``10``, ``10.0`` and ``1E+1`` are one value)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def drift_id(tenant: str, meter: str, day: LocalDay, counted: Decimal, recounted: Decimal) -> str:
    """The alert's identity: the same drift (same day, same two values) has the same id, so a
    rerun publishes the same id; a drift that changed is a new alert."""
    text = "|".join((DRIFT_TYPE, tenant, meter, Window.DAY.value, day.key, plain(counted), plain(recounted)))
    return "drift_" + hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Drift:
    """A day total that the raw-event log and the consume records do not add up to."""

    tenant: str
    meter: str
    tz: ZoneInfo
    day: LocalDay
    counted: Decimal  # the day counter's ``v`` (0 when there is none)
    recounted: Decimal  # logged + consumed
    consumed: Decimal  # the part of ``recounted`` that POST /v1/consume added

    @property
    def difference(self) -> Decimal:
        return _DECIMAL.subtract(self.counted, self.recounted)

    @property
    def id(self) -> str:
        return drift_id(self.tenant, self.meter, self.day, self.counted, self.recounted)

    def payload(self, occurred_at: datetime) -> dict[str, Any]:
        """The operator alert's document (SNS ``data``)."""
        return {
            "id": self.id,
            "type": DRIFT_TYPE,
            "severity": "critical",
            "tenant_id": self.tenant,
            "meter": self.meter,
            "window": Window.DAY.value,
            "window_start": format_instant(self.day.start, self.tz),
            "window_end": format_instant(self.day.end, self.tz),
            "counted": json_number(self.counted),
            "recounted": json_number(self.recounted),
            "difference": json_number(self.difference),
            "consumed": json_number(self.consumed),
            "occurred_at": occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
