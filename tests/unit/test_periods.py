from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tollgate.domain.periods import (
    Window,
    is_known_zone,
    is_valid_timezone,
    utc_key,
    window_end,
    window_start,
    windows_between,
    zone,
)


def utc(*a):
    return datetime(*a, tzinfo=UTC)


def test_day_follows_the_tenant_zone():
    tz = zone("Europe/Paris")
    start = window_start(utc(2026, 11, 19, 23, 30), Window.DAY, tz)  # 00:30 in Paris on the 20th
    assert start.isoformat() == "2026-11-20T00:00:00+01:00"
    assert utc_key(start) == "2026-11-19T23:00:00Z"


def test_days_across_dst_are_23_and_25_hours():
    tz = zone("America/New_York")
    spring = window_start(utc(2026, 3, 8, 12), Window.DAY, tz)
    fall = window_start(utc(2026, 11, 1, 12), Window.DAY, tz)

    # Subtract in UTC: Python subtracts same-zone datetimes as wall clock times.
    def length(start):
        return window_end(start, Window.DAY, tz).astimezone(UTC) - start.astimezone(UTC)

    assert length(spring) == timedelta(hours=23)
    assert length(fall) == timedelta(hours=25)


def test_the_repeated_hour_of_a_fall_back_is_two_windows():
    tz = zone("America/New_York")
    first = window_start(utc(2026, 11, 1, 5, 30), Window.HOUR, tz)  # 01:30 EDT
    second = window_start(utc(2026, 11, 1, 6, 30), Window.HOUR, tz)  # 01:30 EST
    assert utc_key(first) == "2026-11-01T05:00:00Z" and utc_key(second) == "2026-11-01T06:00:00Z"
    assert window_end(first, Window.HOUR, tz) == second


@pytest.mark.parametrize(
    "name,expected", [("Asia/Kathmandu", "2026-11-20T10:15:00Z"), ("Asia/Kolkata", "2026-11-20T10:30:00Z")]
)
def test_hours_in_quarter_and_half_hour_zones(name, expected):
    tz = zone(name)
    assert utc_key(window_start(utc(2026, 11, 20, 10, 50), Window.HOUR, tz)) == expected


def test_month_in_zone_and_december_rollover():
    tz = zone("Australia/Adelaide")  # +10:30 in December
    start = window_start(utc(2026, 12, 31, 14), Window.MONTH, tz)  # already 1 Jan locally
    assert start.isoformat() == "2027-01-01T00:00:00+10:30"
    dec = window_start(utc(2026, 12, 15), Window.MONTH, tz)
    assert window_end(dec, Window.MONTH, tz) == start


def test_day_that_starts_in_a_dst_gap_starts_at_the_gap_end():
    tz = zone("America/Santiago")  # 2022-09-11 00:00 did not exist
    start = window_start(utc(2022, 9, 11, 12), Window.DAY, tz)
    assert start.isoformat() == "2022-09-11T01:00:00-03:00"


def test_lifetime_and_naive_times():
    assert window_start(utc(2026, 1, 1), Window.LIFETIME, zone("UTC")) is None
    assert utc_key(None) == "lifetime"
    with pytest.raises(ValueError):
        window_start(datetime(2026, 1, 1), Window.DAY, zone("UTC"))


def test_timezone_validation():
    assert is_valid_timezone("Europe/Paris") and is_valid_timezone("UTC")
    assert not is_valid_timezone("Mars/Base") and not is_valid_timezone("../etc/passwd")


ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Santiago"]


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
    st.sampled_from([Window.MINUTE, Window.HOUR, Window.DAY, Window.MONTH]),
)
def test_every_instant_lies_in_exactly_its_window(at, name, window):
    tz = zone(name)
    start = window_start(at, window, tz)
    end = window_end(start, window, tz)
    assert start <= at < end
    assert window_start(end, window, tz) == end  # windows tile time with no gap or overlap


def test_windows_between_covers_the_range():
    tz = zone("Europe/Paris")
    starts = list(windows_between(utc(2026, 10, 24, 22), utc(2026, 10, 27, 23, 30), Window.DAY, tz))
    assert [s.date().isoformat() for s in starts] == ["2026-10-25", "2026-10-26", "2026-10-27", "2026-10-28"]
    # ``to`` is exclusive: midnight in Paris (23:00 UTC in winter) does not open the 28th.
    starts = list(windows_between(utc(2026, 10, 24, 22), utc(2026, 10, 27, 23), Window.DAY, tz))
    assert starts[-1].date().isoformat() == "2026-10-27"


def test_new_zones_are_area_location_names_or_utc():
    for name in (
        "UTC",
        "Etc/UTC",
        "Europe/Paris",
        "America/Argentina/Buenos_Aires",
        "Asia/Calcutta",
        "Arctic/Longyearbyen",
    ):
        assert is_valid_timezone(name), name
    for name in (
        "localtime",
        "Factory",
        "EST5EDT",
        "CET",
        "GMT",
        "Zulu",
        "US/Eastern",
        "Etc/GMT+5",
        "Etc/GMT",
        "posixrules",
        "Europe",
        "Europe/",
        "/Paris",
        "Mars/Base",
        "Europe/Nowhere",
    ):
        assert not is_valid_timezone(name), name


def test_stored_old_style_zones_still_load():
    for name in ("EST5EDT", "CET", "US/Eastern", "Etc/GMT+5"):
        assert not is_valid_timezone(name) and is_known_zone(name)
        assert zone(name).key == name
