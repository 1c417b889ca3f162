"""HealthService on the fakes: health computed from the quota snapshot (levels, overages, no
limits, a window that resets), stored, and the tenant list's filters served by the stored
health alone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.fakes.world import World
from tollgate.domain.health import TenantHealth
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.plans import Enforcement
from tollgate.domain.quota import Status
from tollgate.services import health as health_module

from .conftest import add_meter, add_plan, add_tenant, limit

H, C, W, X = Status.HEALTHY, Status.CAUTION, Status.WARNING, Status.CRITICAL


@pytest.fixture
def world() -> World:
    w = World()
    add_meter(w, "api_calls", Aggregation.SUM)
    add_plan(
        w,
        "basic",
        [limit("api_calls", Window.MONTH, 100), limit("api_calls", Window.DAY, 10, Enforcement.SOFT)],
    )
    add_tenant(w, "acme", timezone="Europe/Paris", plan="basic")
    return w


def use(world: World, amount: str, tenant: str = "acme") -> None:
    event_id = f"e{len(world.stores.counter_store.markers)}"
    assert world.consume.consume(tenant, "api_calls", Decimal(amount), event_id).doc["allowed"]


def level(world: World, tenant: str = "acme") -> tuple[Status, bool]:
    [h] = world.health.refresh([tenant])
    assert world.health.of(tenant) == h  # what refresh computes is what is stored
    return h.status, h.has_overages


# ------------------------------------------------------------------ computing
def test_a_tenant_never_evaluated_is_healthy_with_no_time(world: World):
    assert world.health.of("acme") == TenantHealth("acme", H, False, None)


def test_no_limits_is_healthy(world: World):
    add_tenant(world, "free")
    [h] = world.health.refresh(["free"])
    assert h == TenantHealth("free", H, False, world.clock.now())
    assert world.stores.health_store.items["free"] == h  # a healthy tenant is stored too: when it was computed


def test_the_worst_level_over_the_current_windows(world: World):
    # the day's soft limit (10) leads: the month's (100) stays healthy throughout
    assert level(world) == (H, False)
    steps = [("7", H, False), ("1", C, False), ("1.5", W, False), ("0.5", X, False), ("1", X, True)]
    for amount, status, overages in steps:
        use(world, amount)
        assert level(world) == (status, overages), amount  # exactly at the limit is critical, not over


def test_a_window_reset_is_healthy_after_a_refresh_with_a_later_clock(world: World):
    use(world, "11")  # soft: admitted, over the day's limit
    assert level(world) == (X, True)
    world.clock.advance(hours=14)  # 2026-11-21 01:00 in Paris: a new day, the same month (11 of 100)
    assert world.health.of("acme").status is X  # stored health stays until a refresh
    assert level(world) == (H, False)
    assert world.health.of("acme").updated_at == world.clock.now()


def test_refresh_unhealthy_moves_stale_tenants_back_and_reads_no_healthy_one(world: World):
    add_tenant(world, "beta", plan="basic")
    use(world, "9")  # acme: warning
    world.health.refresh(["acme", "beta", "ghost"])  # an unknown id is skipped
    assert set(world.stores.health_store.items) == {"acme", "beta"}
    world.clock.advance(days=1)
    refreshed = world.health.refresh_unhealthy()
    assert [(h.tenant_id, h.status) for h in refreshed] == [("acme", H)]  # beta (healthy) was not read again


def test_an_older_computation_never_replaces_a_newer_one(world: World):
    store = world.stores.health_store
    now = world.clock.now()
    store.put(TenantHealth("acme", H, False, now))
    store.put(TenantHealth("acme", X, True, now - timedelta(seconds=1)))  # a slower refresh, computed earlier
    assert store.items["acme"] == TenantHealth("acme", H, False, now)


# ------------------------------------------------------------------ the filters
@pytest.fixture
def fleet(world: World) -> World:
    """Six tenants whose stored health is set directly: none has usage, so a filter that
    recomputed anything would find them all healthy."""
    add_plan(world, "pro", [])
    plans = {"a": "basic", "b": "basic", "c": "pro", "d": "basic", "e": "basic", "f": "pro"}
    for tenant, plan in plans.items():
        add_tenant(world, tenant, plan=plan)
    at = world.clock.now()
    for tenant, status, overages in (("a", X, True), ("b", X, False), ("c", W, False), ("d", H, False), ("f", X, True)):
        world.stores.health_store.put(TenantHealth(tenant, status, overages, at))

    def no_recompute(*_a, **_k):
        raise AssertionError("a filter recomputed health")

    world.quotas.snapshot = no_recompute  # type: ignore[method-assign]
    return world


def walk(world: World, limit: int, **filters) -> list[str]:
    """Every page of a filtered list, followed to the end."""
    out: list[str] = []
    rows, cursor = world.health.list_tenants(limit, None, **filters)
    out += [t.id for t, _ in rows]
    while cursor is not None:
        rows, cursor = world.health.list_tenants(limit, cursor, **filters)
        assert len(rows) <= limit
        out += [t.id for t, _ in rows]
    return out


CASES = [
    ({}, "a b c d e f acme"),
    ({"status": X}, "a b f"),
    ({"status": X, "has_overages": True}, "a f"),
    ({"has_overages": True}, "a f"),
    ({"has_overages": True, "plan": "basic"}, "a"),
    ({"status": X, "has_overages": False}, "b"),
    ({"status": W}, "c"),
    ({"status": W, "has_overages": True}, ""),
    ({"status": H, "has_overages": True}, ""),
    ({"status": C}, ""),
    ({"status": H}, "d e acme"),
    ({"status": H, "plan": "basic"}, "d e acme"),
    ({"has_overages": False}, "b c d e acme"),
    ({"plan": "pro"}, "c f"),
    ({"plan": "pro", "status": X}, "f"),
    ({"plan": "none"}, ""),
]


@pytest.mark.parametrize("filters,expected", CASES, ids=[str(c[0]) for c in CASES])
@pytest.mark.parametrize("limit", [1, 2, 50])
def test_the_filters_combine(fleet: World, filters, expected, limit):
    assert sorted(walk(fleet, limit, **filters)) == sorted(expected.split())  # each once


def test_each_tenant_carries_its_stored_health_or_the_never_evaluated_one(fleet: World):
    rows, _ = fleet.health.list_tenants(50, None)
    health = {t.id: (h.status, h.has_overages, h.updated_at is None) for t, h in rows}
    assert health["a"] == (X, True, False) and health["e"] == (H, False, True) and health["acme"] == (H, False, True)


def test_a_filtered_page_may_be_short_and_its_cursor_goes_on(fleet: World, monkeypatch):
    monkeypatch.setattr(health_module, "MAX_ROUNDS", 2)
    rows, cursor = fleet.health.list_tenants(1, None, plan="pro")  # a and b read, neither on pro
    assert rows == [] and cursor is not None
    assert walk(fleet, 1, plan="pro") == ["c", "f"]


def test_a_cursor_of_another_list_is_refused(fleet: World):
    _, walk_cursor = fleet.health.list_tenants(1, None)
    _, critical_cursor = fleet.health.list_tenants(1, None, status=X)
    assert walk_cursor and critical_cursor
    for cursor, filters in (
        (walk_cursor, {"status": X}),
        (critical_cursor, {}),
        (critical_cursor, {"status": W}),
        ("garbage", {"status": H}),
    ):
        with pytest.raises(ValueError):
            fleet.health.list_tenants(1, cursor, **filters)


def test_a_refresh_that_changes_nothing_writes_nothing_and_keeps_when_it_changed(world: World):
    use(world, "8")
    assert level(world) == (C, False)
    changed_at, puts = world.health.of("acme").updated_at, world.stores.health_store.puts
    world.clock.advance(minutes=5)  # the next sweep: the same level
    assert level(world) == (C, False)
    assert world.stores.health_store.puts == puts and world.health.of("acme").updated_at == changed_at
    use(world, "1")
    assert level(world) == (W, False) and world.stores.health_store.puts == puts + 1
