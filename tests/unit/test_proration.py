"""Plan changes inside a billing period (domain.proration with domain.invoice_build): the
published proration vectors (OpenMeter, Lago), exact to the second across a DST change in
Europe/Paris, usage split at the hour of the change, and a plan change undone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tollgate.domain.invoice_build import PeriodUsage, PlanPart, compute_parts
from tollgate.domain.plans import Plan
from tollgate.domain.pricing import Charge, Model
from tollgate.domain.proration import PlanChange, segments

D = Decimal
T0 = datetime(2025, 1, 1, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def plan(plan_id: str, fee: str, currency: str = "USD", *charges: Charge) -> Plan:
    return Plan(plan_id, plan_id.title(), (), None, T0, T0, currency=currency, base_fee=D(fee), charges=charges)


PLANS = {
    "a": plan("a", "100"),
    "free": plan("free", "0"),
    "yen": plan("yen", "1000", "JPY"),
    "free-yen": plan("free-yen", "0", "JPY"),
    "p50": plan("p50", "50"),
}


def fee_lines(current: str, changes: list[PlanChange], start: datetime, end: datetime, tz=UTC, plans=PLANS) -> list:
    segs = segments(current, changes, start, end, tz)
    parts = [PlanPart(plans[s.plan], PeriodUsage(), s) for s in segs if s.plan is not None]
    totals = compute_parts(parts, {}, period_start=start, period_end=end)
    return [(line.details.get("plan"), line.amount) for line in totals.lines]


JAN, FEB = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("until", "expected"),
    [(datetime(2026, 1, 16, tzinfo=UTC), D("48.39")), (datetime(2026, 1, 11, tzinfo=UTC), D("32.26"))],
)
def test_openmeter_vectors_100_usd_over_part_of_a_31_day_january(until, expected):
    lines = fee_lines("free", [PlanChange(until, "a", "free")], JAN, FEB)
    assert lines == [("a", expected)]  # the free plan's fee of 0 makes no line


def test_openmeter_vector_1000_jpy_over_10_of_31_days():
    assert fee_lines("free-yen", [PlanChange(datetime(2026, 1, 11, tzinfo=UTC), "yen", "free-yen")], JAN, FEB) == [
        ("yen", D("323"))
    ]


def test_lago_vector_a_50_usd_plan_from_august_10_is_22_days_worth():
    aug, sep = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    assert fee_lines("p50", [PlanChange(datetime(2026, 8, 10, tzinfo=UTC), None, "p50")], aug, sep) == [
        ("p50", D("35.48"))
    ]


def test_a_dst_month_in_paris_prorates_by_elapsed_time_to_the_second():
    oct_, nov = datetime(2026, 10, 1, tzinfo=PARIS), datetime(2026, 11, 1, tzinfo=PARIS)
    assert (nov.astimezone(UTC) - oct_.astimezone(UTC)).total_seconds() == 745 * 3600  # clocks back on Oct 25
    change = datetime(2026, 10, 16, tzinfo=PARIS)
    lines = fee_lines("free", [PlanChange(change, "a", "free")], oct_, nov, PARIS)
    assert lines == [("a", D("48.32"))]  # 360 h of 745, not 15 days of 31 (48.39)
    later = datetime(2026, 10, 16, 0, 0, 1, tzinfo=PARIS)  # one second more
    assert fee_lines("free", [PlanChange(later, "a", "free")], oct_, nov, PARIS) == [("a", D("48.32"))]
    both = fee_lines("a", [PlanChange(change, "p50", "a")], oct_, nov, PARIS)
    assert both == [("p50", D("24.16")), ("a", D("51.68"))]  # 50 x 360/745 + 100 x 385/745


def test_usage_splits_at_the_hour_of_the_change_which_the_new_plan_prices():
    at = datetime(2026, 1, 10, 14, 37, tzinfo=UTC)
    (old, new) = segments("b", [PlanChange(at, "a", "b")], JAN, FEB, UTC)
    assert (old.usage_start, old.usage_end) == (JAN, datetime(2026, 1, 10, 14, tzinfo=UTC))
    assert (new.usage_start, new.usage_end) == (datetime(2026, 1, 10, 14, tzinfo=UTC), FEB)
    assert (old.end, new.start) == (at, at)  # the fee splits at the second itself
    per_unit = (Charge("calls", Model.PER_UNIT, unit_amount=D(1)),)
    plans = {
        "a": plan("a", "0", "USD", *per_unit),
        "b": plan("b", "0", "USD", Charge("calls", Model.PER_UNIT, unit_amount=D(2))),
    }
    parts = [
        PlanPart(plans["a"], PeriodUsage({"calls": D(10)}), old),
        PlanPart(plans["b"], PeriodUsage({"calls": D(20)}), new),
    ]
    totals = compute_parts(parts, {}, period_start=JAN, period_end=FEB)
    assert [(line.details["plan"], line.amount) for line in totals.lines] == [("a", D(10)), ("b", D(40))]
    assert "2026-01-10 14:37" in totals.lines[1].description


def test_changes_outside_the_period_tell_only_the_plan_in_force_and_an_undone_change_merges():
    later = datetime(2026, 3, 5, tzinfo=UTC)
    (whole,) = segments("b", [PlanChange(later, "a", "b")], JAN, FEB, UTC)  # a in force all January
    assert (whole.plan, whole.start, whole.end) == ("a", JAN, FEB)
    t1, t2 = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC)
    segs = segments("a", [PlanChange(t1, "a", "b"), PlanChange(t2, "b", "a")], JAN, FEB, UTC)
    assert [(s.plan, s.start, s.end) for s in segs] == [("a", JAN, t1), ("b", t1, t2), ("a", t2, FEB)]
    same = segments("a", [PlanChange(t1, "a", "a")], JAN, FEB, UTC)
    assert [(s.plan, s.start, s.end) for s in same] == [("a", JAN, FEB)]
