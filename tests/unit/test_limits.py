"""Limit math, windows in the tenant's zone, quota status, decisions (tollgate.domain) and the RateLimit
headers (tollgate.api.ratelimit_headers). Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.structured_fields import parse_list
from tollgate.api.ratelimit_headers import HeaderPolicy, doc_headers, ratelimit_headers
from tollgate.domain.decisions import LIFETIME_RETRY_AFTER_S, decision_doc, doc_retry_after
from tollgate.domain.periods import Window
from tollgate.domain.plans import Enforcement, Limit, effective_limits
from tollgate.domain.quota import LimitState, Status, bounds, judge, status_for, too_big, write_ceiling

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
UTCZ = ZoneInfo("UTC")
D = Decimal


def lim(limit, window=Window.MONTH, enforcement=Enforcement.HARD, meter="m") -> Limit:
    return Limit(meter, window, D(str(limit)), enforcement)


def state(limit: Limit, used, at=datetime(2026, 11, 20, 10, tzinfo=UTC), tz=UTCZ) -> LimitState:
    return LimitState(limit, D(str(used)), bounds(at, limit.window, tz))


# ------------------------------------------------------------------ status
@pytest.mark.parametrize(
    "ratio,status",
    [
        ("0", "healthy"),
        ("0.7499", "healthy"),
        ("0.75", "caution"),
        ("0.8999", "caution"),
        ("0.9", "warning"),
        ("0.9999", "warning"),
        ("1", "critical"),
        ("1.5", "critical"),
    ],
)
def test_status_thresholds(ratio, status):
    assert status_for(D(ratio)) is Status(status)


def test_state_numbers():
    s = state(lim(200), 150)
    assert (s.remaining, s.percent, s.status) == (50, D("75.00"), Status.CAUTION)
    over = state(lim(200), 250)
    assert (over.remaining, over.exceeded, over.status) == (0, True, Status.CRITICAL)
    assert state(lim(0), 0).status is Status.CRITICAL  # a zero limit allows nothing


# ------------------------------------------------------------------ effective limits
def test_overrides_replace_the_plans_limit_of_the_same_meter_and_window_and_add_others():
    plan = [lim(100), lim(10, Window.DAY), lim(5, meter="other")]
    overrides = [lim(1000), lim(3, Window.MINUTE)]
    got = [(e.limit.meter, e.limit.window, e.limit.limit, e.source) for e in effective_limits(plan, overrides)]
    assert got == [
        ("m", Window.MINUTE, 3, "override"),
        ("m", Window.DAY, 10, "plan"),
        ("m", Window.MONTH, 1000, "override"),
        ("other", Window.MONTH, 5, "plan"),
    ]


# ------------------------------------------------------------------ the decision
def test_a_hard_limit_admits_exactly_up_to_the_limit():
    hard = lim(500)
    assert judge(D(1), [state(hard, 499)]).allowed
    assert not judge(D(1), [state(hard, 500)]).allowed
    assert judge(D(5), [state(hard, 495)]).allowed and not judge(D(5), [state(hard, 496)]).allowed
    # the write's condition, v <= limit - n, admits exactly the same values
    assert write_ceiling(hard, D(5)) == 495


def test_a_check_asks_whether_anything_is_left():
    hard = lim(10)
    assert judge(D(0), [state(hard, 9)]).allowed
    assert not judge(D(0), [state(hard, 10)]).allowed
    assert judge(D(0), [state(lim(10, enforcement=Enforcement.SOFT), 50)]).allowed


def test_soft_limits_admit_and_flag_and_every_hard_limit_must_agree():
    soft, hard_day, hard_month = lim(3, Window.MINUTE, Enforcement.SOFT), lim(10, Window.DAY), lim(100)
    v = judge(D(2), [state(soft, 2), state(hard_day, 5), state(hard_month, 50)])
    assert v.allowed and [s.limit for s in v.soft_over] == [soft]
    v = judge(D(2), [state(soft, 0), state(hard_day, 9), state(hard_month, 50)])
    assert not v.allowed and [s.limit for s in v.blocking] == [hard_day] and v.reason.value == "quota_exceeded"


def test_an_amount_over_the_whole_hard_limit_is_too_big():
    assert too_big(D(11), [lim(10), lim(100, Window.DAY), lim(5, enforcement=Enforcement.SOFT)]) == [lim(10)]
    assert too_big(D(10), [lim(10)]) == []


# ------------------------------------------------------------------ windows in the tenant's zone
@pytest.mark.parametrize(
    "window,at,start,end",
    [
        # minute: resets at the next whole minute
        (Window.MINUTE, "2026-11-20T10:00:59.999999+00:00", "2026-11-20T10:00:00+00:00", "2026-11-20T10:01:00+00:00"),
        # Kolkata is +05:30: its hours start at :30 UTC
        (Window.HOUR, "2026-11-20T10:29:59+00:00", "2026-11-20T09:30:00+00:00", "2026-11-20T10:30:00+00:00"),
        # Paris day: midnight local is 23:00 UTC in winter
        (Window.DAY, "2026-11-20T22:59:59+00:00", "2026-11-19T23:00:00+00:00", "2026-11-20T23:00:00+00:00"),
        (Window.DAY, "2026-11-20T23:00:00+00:00", "2026-11-20T23:00:00+00:00", "2026-11-21T23:00:00+00:00"),
        # Paris month: 1 December 00:00 local
        (Window.MONTH, "2026-11-30T22:59:59+00:00", "2026-10-31T23:00:00+00:00", "2026-11-30T23:00:00+00:00"),
        (Window.MONTH, "2026-11-30T23:00:00+00:00", "2026-11-30T23:00:00+00:00", "2026-12-31T23:00:00+00:00"),
    ],
)
def test_windows_reset_at_the_right_instant_in_the_tenants_zone(window, at, start, end):
    tz = ZoneInfo("Asia/Kolkata") if window is Window.HOUR else PARIS
    b = bounds(datetime.fromisoformat(at), window, tz)
    assert (b.start, b.end) == (datetime.fromisoformat(start), datetime.fromisoformat(end))
    # the reset instant is the first instant of the next window
    assert bounds(b.end, window, tz).start == b.end
    assert bounds(b.end - timedelta(microseconds=1), window, tz).end == b.end


def test_resets_at_across_dst_changes():
    # Paris springs forward on 2026-03-29: that day has 23 hours
    spring = bounds(datetime(2026, 3, 29, 12, tzinfo=UTC), Window.DAY, PARIS)
    assert spring.end.astimezone(PARIS).isoformat() == "2026-03-30T00:00:00+02:00"
    assert spring.seconds() == 23 * 3600
    # March 2026 in Paris: starts at +01:00, ends at +02:00
    march = bounds(datetime(2026, 3, 15, tzinfo=UTC), Window.MONTH, PARIS)
    assert march.start.astimezone(PARIS).isoformat() == "2026-03-01T00:00:00+01:00"
    assert march.end.astimezone(PARIS).isoformat() == "2026-04-01T00:00:00+02:00"
    assert march.seconds() == 31 * 86400 - 3600
    # New York falls back on 2026-11-01: a 25-hour day; the repeated 01:00 hour is its own window
    fall = bounds(datetime(2026, 11, 1, 12, tzinfo=UTC), Window.DAY, NEW_YORK)
    assert fall.seconds() == 25 * 3600
    assert fall.end.astimezone(NEW_YORK).isoformat() == "2026-11-02T00:00:00-05:00"
    first_one_am = bounds(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), Window.HOUR, NEW_YORK)
    # (compared in UTC: Python never finds a time of a repeated hour equal to one in another zone)
    assert first_one_am.end.astimezone(UTC) == datetime(2026, 11, 1, 6, tzinfo=UTC)
    assert bounds(first_one_am.end, Window.HOUR, NEW_YORK).end.astimezone(UTC) == datetime(2026, 11, 1, 7, tzinfo=UTC)
    # seconds to reset are counted in real time across the change
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 local, before the jump
    assert spring.seconds_left(now) == (spring.end - now).total_seconds() == 21.5 * 3600


def test_lifetime_has_no_window():
    b = bounds(datetime(2026, 1, 1, tzinfo=UTC), Window.LIFETIME, PARIS)
    assert (b.start, b.end, b.seconds(), b.seconds_left(datetime.now(UTC))) == (None, None, None, None)


# ------------------------------------------------------------------ headers
def test_ratelimit_headers_are_structured_field_lists():
    headers = ratelimit_headers(
        [
            HeaderPolicy("api_calls.month", D(500), 30 * 86400, D(12), 3600),
            HeaderPolicy("gb.day", D("2.5"), 86400, D("0.75"), 60),  # fractions round down
            HeaderPolicy("x:y.lifetime", D(10), None, D(3), None),  # lifetime: no w, no t
        ],
        retry_after_s=3600,
    )
    assert parse_list(headers["RateLimit-Policy"]) == [
        ("api_calls.month", {"q": 500, "w": 2592000}),
        ("gb.day", {"q": 2, "w": 86400}),
        ("x:y.lifetime", {"q": 10}),
    ]
    assert parse_list(headers["RateLimit"]) == [
        ("api_calls.month", {"r": 12, "t": 3600}),
        ("gb.day", {"r": 0, "t": 60}),
        ("x:y.lifetime", {"r": 3}),
    ]
    assert headers["Retry-After"] == "3600"


def test_huge_values_are_clamped_to_sf_integers():
    headers = ratelimit_headers([HeaderPolicy("m.month", D("1e30"), 60, D("1e30"), 1)])
    assert parse_list(headers["RateLimit-Policy"]) == [("m.month", {"q": 999_999_999_999_999, "w": 60})]


def test_no_limits_no_ratelimit_headers():
    assert ratelimit_headers([]) == {}


@pytest.mark.parametrize("bad", ['"a";q=1,', '"a";Q=1', '"a";q=1.2345', "a b", '"a";q=1234567890123456', '"a'])
def test_the_test_parser_rejects_what_rfc_8941_rejects(bad):
    with pytest.raises(ValueError):
        parse_list(bad)


def test_a_replayed_decision_counts_seconds_from_now():
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    month = lim(5)
    doc = decision_doc(False, [state(month, 5, at, PARIS)], {month.key}, PARIS)
    reset = datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert doc_retry_after(doc, at) == (reset - at).total_seconds()
    later = at + timedelta(days=1)
    assert doc_retry_after(doc, later) == (reset - later).total_seconds()
    assert dict(parse_list(doc_headers(doc, later)["RateLimit"]))["m.month"]["t"] == (reset - later).total_seconds()


def test_a_denial_by_a_lifetime_limit_says_retry_in_a_day():
    life = lim(1, Window.LIFETIME)
    doc = decision_doc(False, [state(life, 1)], {life.key}, UTCZ)
    assert doc_retry_after(doc, datetime.now(UTC)) == LIFETIME_RETRY_AFTER_S
