"""Cross-tenant analytics on the fakes: the roll-up job (services/rollup_job.py) fed by the
fake counters and activity index, and the query service (services/analytics.py) reading what it
wrote. Figures are checked against the usage counted, per operator day, week and month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tollgate.domain.errors import ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.rollups import Interval
from tollgate.services.analytics import Query

from .conftest import add_meter, add_plan, add_tenant, fields_of
from .rollup_world import RollupWorld

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def rw() -> RollupWorld:
    rw = RollupWorld()
    rw.w.clock.at = NOW
    add_plan(rw.w, "gold", [])
    add_plan(rw.w, "free", [])
    add_meter(rw.w, "api_calls", Aggregation.SUM)
    add_tenant(rw.w, "acme", plan="gold")
    add_tenant(rw.w, "bolt", plan="free")
    add_tenant(rw.w, "corp", plan="free")
    return rw


def values(points) -> list[str]:
    return [str(p.value) for p in points]


def seed(rw: RollupWorld) -> None:
    rw.count("acme", "api_calls", at(18), 100)
    rw.count("acme", "api_calls", at(19, 23), 50)
    rw.count("bolt", "api_calls", at(19, 0), 30)
    rw.count("corp", "api_calls", at(20, 9), 7)
    rw.count("corp", "api_calls", at(20, 1), "0.5")
    rw.job.run()


def test_the_series_is_each_operator_day_summed_over_tenants(rw):
    seed(rw)
    a = rw.analytics.usage(Query("api_calls", at(18, 0), at(21, 0)))
    assert values(a.series) == ["100", "80", "7.5"]
    assert a.total == Decimal("187.5") and a.timezone == "UTC" and a.groups is None
    assert [p.start for p in a.series] == [at(18, 0), at(19, 0), at(20, 0)]


def test_group_by_tenant_ranks_by_total_and_keeps_the_top_limit(rw):
    seed(rw)
    a = rw.analytics.usage(Query("api_calls", at(18, 0), at(21, 0), group_by="tenant", limit=2))
    assert [(g.key, str(g.total)) for g in a.groups] == [("acme", "150"), ("bolt", "30")]
    assert values(a.groups[0].series) == ["100", "50", "0"]
    assert a.total == Decimal("187.5")  # the total is every tenant's, not the top's


def test_a_whole_month_ranks_from_the_month_index(rw):
    seed(rw)
    a = rw.analytics.usage(Query("api_calls", at(1, 0), at(1, 0, month=12), Interval.MONTH, group_by="tenant"))
    assert [(g.key, str(g.total)) for g in a.groups] == [("acme", "150"), ("bolt", "30"), ("corp", "7.5")]
    assert values(a.series) == ["187.5"]


def test_the_plan_filter_and_group_by_plan(rw):
    seed(rw)
    free = rw.analytics.usage(Query("api_calls", at(18, 0), at(21, 0), plan="free"))
    assert values(free.series) == ["0", "30", "7.5"]
    by_plan = rw.analytics.usage(Query("api_calls", at(18, 0), at(21, 0), group_by="plan"))
    assert [(g.key, str(g.total)) for g in by_plan.groups] == [("gold", "150"), ("free", "37.5")]
    ranked = rw.analytics.usage(Query("api_calls", at(18, 0), at(21, 0), plan="free", group_by="tenant"))
    assert [g.key for g in ranked.groups] == ["bolt", "corp"]


def test_late_usage_for_an_earlier_day_is_picked_up_by_the_next_run(rw):
    seed(rw)
    rw.w.clock.advance(minutes=10)
    rw.count("bolt", "api_calls", at(3), 5)  # 17 days late: the counters change, the pair is marked now
    report = rw.job.run()
    assert report.rolled == 1 and report.unchanged == 2
    a = rw.analytics.usage(Query("api_calls", at(1, 0), at(1, 0, month=12), Interval.MONTH, group_by="tenant"))
    assert values(a.series) == ["192.5"] and [str(g.total) for g in a.groups] == ["150", "35", "7.5"]


def test_a_pair_not_active_in_the_lookback_is_not_read_again(rw):
    seed(rw)
    rw.w.clock.advance(hours=3)
    report = rw.job.run()
    assert report.active_pairs == 0 and rw.store.calls > 0


def test_a_plan_change_moves_only_the_days_rolled_up_after_it(rw):
    seed(rw)
    rw.w.tenants.update_tenant("bolt", {"plan": "gold"}, actor="key_admin", reason="upgrade")
    rw.w.clock.advance(minutes=10)
    rw.count("bolt", "api_calls", at(20, 10), 1)
    rw.job.run()
    rows = rw.analytics.usage(Query("api_calls", at(19, 0), at(21, 0), group_by="plan")).groups
    got = {g.key: values(g.series) for g in rows}
    assert got == {"gold": ["50", "1"], "free": ["30", "7.5"]}  # the 19th was rolled up on free


def test_a_plan_no_tenant_of_the_day_is_on_any_more_drops_to_zero(rw):
    rw.count("bolt", "api_calls", at(20, 1), 4)
    rw.job.run()
    rw.w.tenants.update_tenant("bolt", {"plan": "gold"}, actor="key_admin", reason="upgrade")
    rw.w.clock.advance(minutes=10)
    rw.count("bolt", "api_calls", at(20, 2), 1)
    rw.job.run()
    rows = rw.analytics.usage(Query("api_calls", at(20, 0), at(21, 0), group_by="plan")).groups
    assert {g.key: str(g.total) for g in rows} == {"gold": "5", "free": "0"}


def test_weeks_are_iso_weeks_in_the_operator_zone_across_a_dst_change():
    rw = RollupWorld("Europe/Paris")
    rw.w.clock.at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    add_meter(rw.w, "api_calls", Aggregation.SUM)
    add_tenant(rw.w, "acme")
    rw.count("acme", "api_calls", datetime(2026, 10, 25, 23, 30, tzinfo=UTC), 1)  # Mon 26 Oct 00:30 in Paris (+01:00)
    rw.count("acme", "api_calls", datetime(2026, 10, 25, 21, 30, tzinfo=UTC), 2)  # Sun 25 Oct 22:30 in Paris
    rw.count("acme", "api_calls", datetime(2026, 10, 18, 22, 30, tzinfo=UTC), 4)  # Mon 19 Oct 00:30 (summer time)
    rw.job.run()
    start = datetime(2026, 10, 21, tzinfo=UTC)  # a Wednesday: snapped to Monday the 19th
    a = rw.analytics.usage(Query("api_calls", start, datetime(2026, 10, 27, tzinfo=UTC), Interval.WEEK))
    assert [(p.start.isoformat(), p.end.isoformat()) for p in a.series] == [
        ("2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),  # 169 hours: the clocks went back
        ("2026-10-26T00:00:00+01:00", "2026-11-02T00:00:00+01:00"),
    ]
    assert values(a.series) == ["6", "1"] and a.timezone == "Europe/Paris"


def test_tenant_windows_are_the_tenants_zone_from_its_own_counters():
    rw = RollupWorld("UTC")
    rw.w.clock.at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    add_meter(rw.w, "api_calls", Aggregation.SUM)
    add_tenant(rw.w, "kiri", timezone="Pacific/Kiritimati")  # UTC+14
    rw.count("kiri", "api_calls", datetime(2026, 11, 19, 9, 30, tzinfo=UTC), 3)  # the 19th 23:30 local
    rw.count("kiri", "api_calls", datetime(2026, 11, 19, 10, 30, tzinfo=UTC), 5)  # the 20th 00:30 local
    own = rw.analytics.usage(Query("api_calls", tenant="kiri"))  # no roll-up needed: its counters
    # now is the 21st 02:00 in Kiritimati: the last 30 days are its 22 Oct to 21 Nov
    assert own.timezone == "Pacific/Kiritimati" and own.series[-1].start.isoformat() == "2026-11-21T00:00:00+14:00"
    assert values(own.series)[-3:] == ["3", "5", "0"] and len(own.series) == 30 and own.total == 8
    rw.job.run()
    across = rw.analytics.usage(
        Query("api_calls", datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC))
    )
    assert values(across.series) == ["8"]  # both hours start on the 19th in UTC


def test_the_default_range_is_the_last_30_operator_days(rw):
    a = rw.analytics.usage(Query("api_calls"))
    assert a.start == at(22, 0, month=10) and a.end == at(21, 0) and len(a.series) == 30


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (Query("peak"), "meter"),
        (Query("visitors"), "meter"),
        (Query("api_calls", at(20), at(19)), "to"),
        (Query("api_calls", datetime(2025, 10, 15, tzinfo=UTC), at(20)), "from"),  # 401 days
        (Query("api_calls", tenant="acme", plan="gold"), "plan"),
        (Query("api_calls", tenant="acme", group_by="tenant"), "group_by"),
    ],
)
def test_bad_queries_name_the_field(rw, query, field):
    add_meter(rw.w, "peak", Aggregation.MAX)
    add_meter(rw.w, "visitors", Aggregation.UNIQUE_COUNT)
    with pytest.raises(ValidationFailed) as exc:
        rw.analytics.usage(query)
    assert fields_of(exc.value) == [field]


def test_the_tenant_ranking_pages_through_the_month_most_first(rw):
    seed(rw)
    first, cursor = rw.analytics.ranked_tenants("api_calls", 2, None)
    assert [(t, str(v)) for t, v in first] == [("acme", "150"), ("bolt", "30")] and cursor
    rest, end = rw.analytics.ranked_tenants("api_calls", 2, cursor)
    assert [t for t, _ in rest] == ["corp"] and end is None
    assert rw.analytics.current_month() == date(2026, 11, 1)


def test_the_month_item_sums_the_tenants_days_of_the_month(rw):
    rw.count("acme", "api_calls", at(1, 0), 2)
    rw.count("acme", "api_calls", at(30, 23), 3)
    rw.count("acme", "api_calls", at(31, 0, month=10), 100)  # October
    rw.job.run()
    assert rw.store.months[("api_calls", date(2026, 11, 1))]["acme"] == (Decimal(5), "gold")
    assert rw.store.months[("api_calls", date(2026, 10, 1))]["acme"] == (Decimal(100), "gold")
    assert timedelta(0) < NOW - at(1, 0)


def test_pairs_left_when_time_runs_out_are_redone_by_the_next_run(rw):
    rw.count("acme", "api_calls", at(20, 9), 3)
    rw.count("bolt", "api_calls", at(20, 9), 4)
    out_of_time = rw.job.run(remaining_ms=lambda: 1_000)
    assert (out_of_time.skipped, out_of_time.rolled) == (2, 0) and rw.store.series == {} and rw.store.seen_values == {}
    rw.w.clock.advance(minutes=10)
    again = rw.job.run(remaining_ms=lambda: 300_000)
    assert again.rolled == 2 and rw.store.series[("api_calls", date(2026, 11, 20))] == 7
