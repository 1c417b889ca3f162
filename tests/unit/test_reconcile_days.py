"""The reconciliation's calendar (tollgate.domain.reconcile): which local days a run covers in
each zone, which activity hours and log days cover them, and the drift alert's identity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tollgate.domain.periods import zone
from tollgate.domain.reconcile import (
    Drift,
    LocalDay,
    days_ended,
    drift_id,
    hour_floor,
    hours_between,
    plain,
    run_window,
    utc_days,
)

RUN = datetime(2026, 11, 21, 0, 15, tzinfo=UTC)  # the schedule: cron(15 0 * * ? *)


def covered(zone_name: str, as_of: datetime = RUN) -> list[tuple[str, str]]:
    days = days_ended(zone(zone_name), as_of - timedelta(days=1), as_of)
    return [(d.start.astimezone(UTC).isoformat(), d.end.astimezone(UTC).isoformat()) for d in days]


@pytest.mark.parametrize(
    ("zone_name", "start", "end"),
    [
        ("UTC", "2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00"),  # ended 15 minutes ago
        ("Europe/Paris", "2026-11-19T23:00:00+00:00", "2026-11-20T23:00:00+00:00"),
        ("Asia/Kathmandu", "2026-11-19T18:15:00+00:00", "2026-11-20T18:15:00+00:00"),  # +05:45
        ("Pacific/Kiritimati", "2026-11-19T10:00:00+00:00", "2026-11-20T10:00:00+00:00"),  # +14: its 20th
        ("Pacific/Honolulu", "2026-11-19T10:00:00+00:00", "2026-11-20T10:00:00+00:00"),  # -10: its 19th
        ("Etc/GMT+12", "2026-11-19T12:00:00+00:00", "2026-11-20T12:00:00+00:00"),  # -12: its 19th
    ],
)
def test_a_run_covers_each_zone_s_day_that_ended_most_recently(zone_name, start, end):
    assert covered(zone_name) == [(start, end)]


def test_across_a_dst_change_no_local_day_is_left_out_or_taken_twice():
    """Atlantic/Azores moves its midnight from 01:00 to 00:00 UTC in March: the 00:15 run after
    the change covers two days (the second one 23 hours long), and in October one run covers
    none. Day by day, every local day is covered exactly once."""
    runs = [datetime(2026, 3, 25, 0, 15, tzinfo=UTC) + timedelta(days=i) for i in range(10)]
    runs += [datetime(2026, 10, 21, 0, 15, tzinfo=UTC) + timedelta(days=i) for i in range(10)]
    tz = zone("Atlantic/Azores")
    seen = [d.start for r in runs for d in days_ended(tz, r - timedelta(days=1), r)]
    assert len(seen) == len(set(seen)) == 20
    assert [len(days_ended(tz, r - timedelta(days=1), r)) for r in runs[4:6]] == [1, 2]  # 29 and 30 March
    spring = days_ended(tz, runs[5] - timedelta(days=1), runs[5])[1]
    assert spring.end.astimezone(UTC) - spring.start.astimezone(UTC) == timedelta(hours=23)
    assert 0 in [len(days_ended(tz, r - timedelta(days=1), r)) for r in runs[10:]]


def test_a_day_s_activity_hours_and_log_days():
    paris = zone("Europe/Paris")
    (day,) = days_ended(paris, RUN - timedelta(days=1), RUN)
    assert day.key == "2026-11-19T23:00:00Z"
    lo, hi = day.activity_hours(now=RUN)  # counted after midnight too: through the run
    assert (lo, hi) == (datetime(2026, 11, 19, 23, tzinfo=UTC), RUN)
    late = RUN + timedelta(days=3)  # a rerun days later reads a day past its end, no more
    assert day.activity_hours(now=late)[1] == datetime(2026, 11, 21, 23, tzinfo=UTC)
    assert utc_days(day.start, day.end) == [date(2026, 11, 19), date(2026, 11, 20)]
    utc = LocalDay(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    assert utc_days(utc.start, utc.end) == [date(2026, 11, 20)]  # midnight itself is the next day's


def test_the_run_window_holds_every_zone_s_activity_hours():
    lo, hi = run_window(RUN)
    for name in ("UTC", "Europe/Paris", "Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Honolulu", "Atlantic/Azores"):
        for day in days_ended(zone(name), RUN - timedelta(days=1), RUN):
            first, last = day.activity_hours(now=RUN + timedelta(hours=3))
            assert lo <= first and last <= hi, name


def test_hours():
    at = datetime(2026, 11, 20, 5, 59, 59, tzinfo=zone("Asia/Kathmandu"))
    assert hour_floor(at) == datetime(2026, 11, 20, 0, tzinfo=UTC)
    assert list(hours_between(at, at + timedelta(seconds=2))) == [datetime(2026, 11, 20, 0, tzinfo=UTC)]
    with pytest.raises(ValueError):
        hour_floor(datetime(2026, 11, 20))


def test_a_drift_s_id_depends_on_its_day_and_both_values_only():
    day = LocalDay(
        datetime(2026, 11, 20, tzinfo=zone("Europe/Paris")), datetime(2026, 11, 21, tzinfo=zone("Europe/Paris"))
    )
    same = drift_id("acme", "gb", day, Decimal("7"), Decimal("2.50"))
    assert (
        same
        == drift_id("acme", "gb", day, Decimal("7.0"), Decimal("2.5"))
        == drift_id("acme", "gb", day, Decimal("7E0"), Decimal("2.5"))
    )
    assert same != drift_id("acme", "gb", day, Decimal("8"), Decimal("2.5"))
    assert same != drift_id("acme", "calls", day, Decimal("7"), Decimal("2.5"))
    assert plain(Decimal("-0.00")) == "0" and plain(Decimal("1E+2")) == "100"


def test_the_drift_alert_document():
    paris = zone("Europe/Paris")
    day = LocalDay(datetime(2026, 11, 20, tzinfo=paris), datetime(2026, 11, 21, tzinfo=paris))
    drift = Drift("acme", "gb", paris, day, Decimal("7.5"), Decimal("2.5"), Decimal("1"))
    doc = drift.payload(datetime(2026, 11, 21, 0, 15, tzinfo=UTC))
    assert doc == {
        "id": drift.id,
        "type": "system.counter_drift",
        "severity": "critical",
        "tenant_id": "acme",
        "meter": "gb",
        "window": "day",
        "window_start": "2026-11-20T00:00:00+01:00",
        "window_end": "2026-11-21T00:00:00+01:00",
        "counted": 7.5,
        "recounted": 2.5,
        "difference": 5,
        "consumed": 1,
        "occurred_at": "2026-11-21T00:15:00Z",
    }
