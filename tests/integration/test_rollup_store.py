"""One contract for the RollupStore port: the in-memory fake (tests/fakes/rollups.py) and the
DynamoDB adapter on the template's roll-ups table (its keys, its keys-only ranking index):
absolute puts, ranges of days, partitions of a day and of a month, and the month ranking paged
with its cursor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import new_root
from tests.fakes.rollups import FakeRollupStore

NOV = date(2026, 11, 1)


@pytest.fixture(params=["fake", "aws"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeRollupStore()
        return
    request.getfixturevalue("aws")
    yield new_root().rollup_store


def d(n: int) -> date:
    return date(2026, 11, n)


def test_what_was_seen_is_replaced_whole(store):
    assert store.seen("api_calls", "acme") == {}
    store.put_seen("api_calls", "acme", {"2026-11-19T00:00:00Z": Decimal("1.5"), "2026-11-20T00:00:00Z": Decimal(2)})
    store.put_seen("api_calls", "acme", {"2026-11-20T00:00:00Z": Decimal(3)})
    assert store.seen("api_calls", "acme") == {"2026-11-20T00:00:00Z": Decimal(3)}
    assert store.seen("bytes", "acme") == {}


def test_tenant_days_are_in_the_day_and_the_tenant_partitions(store):
    store.put_tenant_days("api_calls", "acme", "gold", {d(1): Decimal(5), d(2): Decimal("0.25")})
    store.put_tenant_days("api_calls", "acme", "free", {d(2): Decimal(7)})  # absolute: replaces
    store.put_tenant_days("api_calls", "bolt", None, {d(2): Decimal(1)})
    store.put_tenant_days("bytes", "acme", "gold", {d(2): Decimal(99)})
    assert store.tenant_days("api_calls", "acme", d(1), d(30)) == {d(1): Decimal(5), d(2): Decimal(7)}
    assert store.tenant_days("api_calls", "acme", d(2), d(2)) == {d(2): Decimal(7)}
    assert store.day_tenants("api_calls", d(2)) == {"acme": (Decimal(7), "free"), "bolt": (Decimal(1), None)}
    assert store.day_tenants("api_calls", d(3)) == {}


def test_series_by_day_and_by_plan_over_a_range(store):
    store.put_day_series("api_calls", d(1), Decimal(10), {"gold": Decimal(6), "free": Decimal(4)})
    store.put_day_series("api_calls", d(2), Decimal(3), {"free": Decimal(3)})
    store.put_day_series("api_calls", d(2), Decimal(4), {"free": Decimal(0), "gold": Decimal(4)})
    store.put_day_series("api_calls", date(2026, 12, 1), Decimal(1), {})
    assert store.day_series("api_calls", d(1), d(30)) == {d(1): Decimal(10), d(2): Decimal(4)}
    assert store.plan_series("api_calls", d(2), d(30)) == {(d(2), "free"): Decimal(0), (d(2), "gold"): Decimal(4)}
    assert len(store.plan_series("api_calls", d(1), d(2))) == 4
    assert store.day_series("bytes", d(1), d(30)) == {}


def test_month_items_rank_largest_first_a_page_at_a_time(store):
    values = {"acme": 50, "bolt": 7, "corp": 1200, "dyne": Decimal("7.5"), "echo": 0}
    for tenant, v in values.items():
        store.put_month("api_calls", NOV, tenant, "gold", Decimal(v))
    store.put_month("api_calls", NOV, "bolt", "free", Decimal(900))  # absolute: replaces
    store.put_month("api_calls", date(2026, 10, 1), "zeta", None, Decimal(10**6))
    assert store.month_tenants("api_calls", NOV)["bolt"] == (Decimal(900), "free")
    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = store.top_month("api_calls", NOV, 2, cursor)
        seen += page
        pages += 1
        if cursor is None:
            break
    assert seen == [
        ("corp", Decimal(1200)),
        ("bolt", Decimal(900)),
        ("acme", Decimal(50)),
        ("dyne", Decimal("7.5")),
        ("echo", Decimal(0)),
    ]
    assert pages in (3, 4)  # DynamoDB may answer a last, empty page


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjoiTSNhcGlfY2FsbHMjMjAyNi0xMCIsInQiOiJhIiwidiI6IjEifQ"])
def test_a_cursor_of_another_list_is_refused(store, cursor):
    store.put_month("api_calls", NOV, "acme", None, Decimal(1))
    with pytest.raises(ValueError):
        store.top_month("api_calls", NOV, 2, cursor)
