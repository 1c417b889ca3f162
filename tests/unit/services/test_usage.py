"""UsageService on the fake CounterReader: series and totals in the tenant's zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.world import World
from tollgate.domain.errors import NotFound, ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window

from .conftest import add_meter, add_tenant, fields_of

PARIS = ZoneInfo("Europe/Paris")


def day(n: int) -> datetime:
    return datetime(2026, 11, n, tzinfo=PARIS)


@pytest.fixture
def world() -> World:
    w = World()
    add_tenant(w, "acme", timezone="Europe/Paris")
    add_meter(w, "api_calls", Aggregation.SUM, group_by=["region"])
    add_meter(w, "peak", Aggregation.MAX)
    reader = w.stores.counter_reader
    reader.put_total("acme", "api_calls", Window.DAY, datetime(2026, 10, 31, tzinfo=PARIS), 1000)  # before
    reader.put_total("acme", "api_calls", Window.DAY, day(1), 5)
    reader.put_total("acme", "api_calls", Window.DAY, day(2), None)  # an item with no value
    reader.put_total("acme", "api_calls", Window.DAY, day(3), "2.5")
    reader.put_total("acme", "api_calls", Window.DAY, day(4), 1000)  # after
    reader.put_total("acme", "api_calls", Window.HOUR, day(1), 77)  # another window
    reader.put_total("other", "api_calls", Window.DAY, day(1), 1000)  # another tenant
    reader.put_group("acme", "api_calls", Window.DAY, "region", "eu", day(1), 3)
    reader.put_group("acme", "api_calls", Window.DAY, "region", "us", day(1), 2)
    reader.put_group("acme", "api_calls", Window.DAY, "region", "eu", day(3), "2.5")
    return w


def test_a_day_series_and_its_total(world: World):
    u = world.usage.query_usage("acme", "api_calls", day(1), day(4), Window.DAY, None)
    assert (u.tenant, u.meter, u.aggregation, u.timezone) == ("acme", "api_calls", Aggregation.SUM, "Europe/Paris")
    assert u.total == Decimal("7.5")
    assert [(p.start, p.end, p.value, p.group) for p in u.series] == [
        (day(1), day(2), Decimal(5), None),
        (day(3), day(4), Decimal("2.5"), None),
    ]
    assert u.series[0].start.utcoffset() == timedelta(hours=1)  # shown in the tenant's zone
    [query] = world.stores.counter_reader.queries
    assert query == ("totals", "T#acme#api_calls#day", "2026-10-31T23:00:00Z", "2026-11-03T22:59:59Z")


def test_a_grouped_series(world: World):
    u = world.usage.query_usage("acme", "api_calls", day(1), day(4), Window.DAY, "region")
    assert u.total == Decimal("7.5")  # the total is of the totals, not of the groups
    assert [(p.start, p.value, p.group) for p in u.series] == [
        (day(1), Decimal(3), {"region": "eu"}),
        (day(1), Decimal(2), {"region": "us"}),
        (day(3), Decimal("2.5"), {"region": "eu"}),
    ]
    with pytest.raises(ValidationFailed) as exc:
        world.usage.query_usage("acme", "api_calls", day(1), day(4), Window.DAY, "colour")
    assert fields_of(exc.value) == ["group_by"]


def test_the_range_defaults_to_the_current_month_in_the_tenants_zone(world: World):
    u = world.usage.query_usage("acme", "api_calls", None, None, Window.DAY, None)
    assert (u.start, u.end) == (day(1), datetime(2026, 12, 1, tzinfo=PARIS))
    assert u.total == Decimal(1007.5)  # every day of November, the 4th too
    world.clock.at = datetime(2026, 12, 5, tzinfo=PARIS)
    u = world.usage.query_usage("acme", "api_calls", None, None, Window.DAY, None)
    assert (u.start, u.total, u.series) == (datetime(2026, 12, 1, tzinfo=PARIS), Decimal(0), [])


def test_no_usage_of_a_max_meter_has_no_total(world: World):
    u = world.usage.query_usage("acme", "peak", day(1), day(4), Window.DAY, None)
    assert (u.total, u.series) == (None, [])


def test_invalid_ranges_and_unknown_names(world: World):
    with pytest.raises(ValidationFailed) as exc:
        world.usage.query_usage("acme", "api_calls", day(4), day(1), Window.DAY, None)
    assert fields_of(exc.value) == ["to"]
    with pytest.raises(ValidationFailed) as exc:
        world.usage.query_usage("acme", "api_calls", day(1), day(1) + timedelta(days=40), Window.HOUR, None)
    assert fields_of(exc.value) == ["from"]
    with pytest.raises(NotFound):
        world.usage.query_usage("nobody", "api_calls", day(1), day(4), Window.DAY, None)
    with pytest.raises(NotFound):
        world.usage.query_usage("acme", "nothing", day(1), day(4), Window.DAY, None)
    assert world.stores.counter_reader.queries == []


# ------------------------------------------------------------------ unique_count
@pytest.fixture
def uniques(world: World) -> World:
    add_meter(world, "users", Aggregation.UNIQUE_COUNT, group_by=["region"])
    reader = world.stores.counter_reader
    for n, count in ((1, 3), (2, 4), (3, 2)):
        reader.put_total("acme", "users", Window.DAY, day(n), count)
    reader.put_total("acme", "users", Window.MONTH, day(1), 5)  # 5 distinct over November
    reader.put_total("acme", "users", Window.MONTH, datetime(2026, 12, 1, tzinfo=PARIS), 2)
    return world


def test_a_unique_count_total_is_exact_for_one_day_or_one_month_and_null_otherwise(uniques: World):
    usage = uniques.usage
    month = usage.query_usage("acme", "users", day(1), datetime(2026, 12, 1, tzinfo=PARIS), Window.DAY, None)
    assert month.total == 5  # the month's own count, not the sum of the days (9)
    assert [p.value for p in month.series] == [3, 4, 2]
    assert usage.query_usage("acme", "users", day(2), day(3), Window.DAY, None).total == 4
    assert usage.query_usage("acme", "users", day(5), day(6), Window.DAY, None).total == 0  # no usage that day
    assert usage.query_usage("acme", "users", day(1), day(3), Window.DAY, None).total is None  # two days
    two_months = usage.query_usage("acme", "users", day(1), datetime(2027, 1, 1, tzinfo=PARIS), Window.MONTH, None)
    assert two_months.total is None and [p.value for p in two_months.series] == [5, 2]
    tenant = uniques.stores.tenant_repo.get("acme")
    meters = [uniques.stores.meter_repo.get("users")]
    assert tenant is not None and meters[0] is not None
    assert usage.period_totals(tenant, meters, day(1), datetime(2026, 12, 1, tzinfo=PARIS)) == {"users": 5}
    assert usage.period_totals(tenant, meters, day(1), datetime(2027, 1, 1, tzinfo=PARIS)) == {"users": None}


def test_a_unique_count_meter_has_no_hour_series(uniques: World):
    with pytest.raises(ValidationFailed) as exc:
        uniques.usage.query_usage("acme", "users", day(1), day(2), Window.HOUR, None)
    assert fields_of(exc.value) == ["window"]
