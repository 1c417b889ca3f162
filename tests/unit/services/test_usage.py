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
