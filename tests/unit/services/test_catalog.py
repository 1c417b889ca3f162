"""The catalog: one TTL cache per environment; the writer's environment sees its change at
once, every other environment within exactly one TTL."""

from __future__ import annotations

import pytest

from tests.fakes import FakeClock
from tests.fakes.world import World
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.periods import Window
from tollgate.services.catalog import CONFIG_TTL_S, TtlCache

from .conftest import add_meter, add_plan, add_tenant, limit, rate, tenant_principal

TTL = CONFIG_TTL_S
JUST_BEFORE = TTL - 0.001


def limits_of(world: World, tenant_id: str) -> dict[tuple[str, Window], tuple[int, str]]:
    tenant = world.catalog.tenant(tenant_id)
    assert tenant is not None
    return {e.limit.key: (int(e.limit.limit), e.source) for e in world.catalog.effective_limits(tenant)}


def test_a_second_read_within_the_ttl_does_not_hit_the_repositories(world: World):
    add_plan(world, "free", [limit("api_calls", Window.MONTH, 100)], rate(10, 20))
    add_tenant(world, "acme", plan="free")
    add_meter(world, "api_calls")
    s = world.stores
    reads = (s.tenant_repo.reads["acme"], s.plan_repo.reads["free"], s.meter_repo.reads["api_calls"])

    for _ in range(3):
        assert world.catalog.tenant("acme").plan == "free"
        assert world.catalog.plan("free").id == "free"
        assert world.catalog.meter("api_calls").key == "api_calls"
        assert world.catalog.overrides("acme") == ()  # "no overrides" is a found value: cached too
    assert s.tenant_repo.reads["acme"] == reads[0] + 1
    assert s.plan_repo.reads["free"] == reads[1] + 1
    assert s.meter_repo.reads["api_calls"] == reads[2] + 1
    assert s.overrides_repo.reads["acme"] == 1

    world.clock.advance(seconds=JUST_BEFORE)
    world.catalog.tenant("acme")
    assert s.tenant_repo.reads["acme"] == reads[0] + 1
    world.clock.advance(seconds=0.001)
    world.catalog.tenant("acme")
    world.catalog.overrides("acme")
    assert s.tenant_repo.reads["acme"] == reads[0] + 2
    assert s.overrides_repo.reads["acme"] == 2


def test_misses_are_not_cached(world: World):
    other = world.another_environment()
    assert world.catalog.tenant("acme") is None
    assert world.catalog.meter("api_calls") is None
    add_tenant(other, "acme")
    add_meter(other, "api_calls")
    # Created in another environment, seen here at once: the miss was not remembered.
    assert world.catalog.tenant("acme").id == "acme"
    assert world.catalog.meter("api_calls").key == "api_calls"
    assert world.stores.tenant_repo.reads["acme"] >= 2


def test_invalidate_tenant_lets_the_writer_see_its_change_at_once(world: World):
    add_plan(world, "free", [limit("api_calls", Window.MONTH, 100)], rate(10, 20))
    add_plan(world, "premium", [limit("api_calls", Window.MONTH, 5000)], rate(200, 400))
    add_tenant(world, "acme", plan="free", timezone="UTC")
    assert world.catalog.tenant("acme").timezone == "UTC"
    assert limits_of(world, "acme") == {("api_calls", Window.MONTH): (100, "plan")}

    world.tenants.update_tenant("acme", {"timezone": "Asia/Tokyo", "plan": "premium"}, reason="upgrade")
    world.tenants.set_overrides("acme", [limit("storage_gb", Window.LIFETIME, 7)], actor="key_admin")

    assert world.catalog.tenant("acme").timezone == "Asia/Tokyo"
    assert limits_of(world, "acme") == {
        ("api_calls", Window.MONTH): (5000, "plan"),
        ("storage_gb", Window.LIFETIME): (7, "override"),
    }
    assert world.rate_limits.bucket_for(tenant_principal("acme"))[1] == rate(200, 400)


def test_a_change_made_in_another_environment_reaches_this_one_within_one_ttl():
    """The issue's requirement: zone, plan limits, overrides and API rate limit changed through
    another environment's services are seen by this one's readers after exactly one TTL."""
    reader = World()
    writer = reader.another_environment()
    add_plan(writer, "free", [limit("api_calls", Window.MONTH, 100)], rate(10, 20))
    add_plan(writer, "premium", [limit("api_calls", Window.MONTH, 5000)], rate(200, 400))
    add_tenant(writer, "acme", plan="free", timezone="UTC")
    p = tenant_principal("acme")

    def seen() -> tuple:
        return (
            reader.catalog.tenant("acme").timezone,
            limits_of(reader, "acme"),
            reader.catalog.overrides("acme"),
            reader.rate_limits.bucket_for(p),
        )

    before = ("UTC", {("api_calls", Window.MONTH): (100, "plan")}, (), ("t#acme", rate(10, 20)))
    assert seen() == before  # the reader caches it all now

    writer.tenants.update_tenant("acme", {"timezone": "Europe/Paris", "plan": "premium"}, "key_admin", "upgrade")
    override = limit("api_calls", Window.DAY, 300)
    writer.tenants.set_overrides("acme", [override], actor="key_admin", reason="burst day")
    assert writer.catalog.tenant("acme").timezone == "Europe/Paris"  # the writer at once

    assert seen() == before
    reader.clock.advance(seconds=JUST_BEFORE)
    assert seen() == before  # still cached, just before the TTL

    reader.clock.advance(seconds=0.001)  # exactly one TTL after the reads
    assert seen() == (
        "Europe/Paris",
        {("api_calls", Window.DAY): (300, "override"), ("api_calls", Window.MONTH): (5000, "plan")},
        (override,),
        ("t#acme", rate(200, 400)),
    )


def test_a_plan_changed_in_another_environment_reaches_this_one_within_one_ttl():
    reader = World()
    writer = reader.another_environment()
    add_plan(writer, "free", [limit("api_calls", Window.MONTH, 100)], rate(10, 20))
    add_tenant(writer, "acme", plan="free")
    assert limits_of(reader, "acme") == {("api_calls", Window.MONTH): (100, "plan")}
    assert reader.rate_limits.bucket_for(tenant_principal("acme"))[1] == rate(10, 20)

    add_plan(writer, "free", [limit("api_calls", Window.MONTH, 150)], rate(15, 30))
    assert limits_of(writer, "acme") == {("api_calls", Window.MONTH): (150, "plan")}  # invalidate_plan

    reader.clock.advance(seconds=JUST_BEFORE)
    assert limits_of(reader, "acme") == {("api_calls", Window.MONTH): (100, "plan")}
    assert reader.rate_limits.bucket_for(tenant_principal("acme"))[1] == rate(10, 20)
    reader.clock.advance(seconds=0.001)
    assert limits_of(reader, "acme") == {("api_calls", Window.MONTH): (150, "plan")}
    assert reader.rate_limits.bucket_for(tenant_principal("acme"))[1] == rate(15, 30)


def test_api_rate_limit_is_none_without_a_tenant_a_plan_or_a_plan_rate(world: World):
    add_plan(world, "norate", [limit("api_calls", Window.MONTH, 100)])
    add_tenant(world, "planless")
    add_tenant(world, "norate", plan="norate")
    assert world.catalog.api_rate_limit("nobody") is None
    assert world.catalog.api_rate_limit("planless") is None
    assert world.catalog.api_rate_limit("norate") is None


@pytest.mark.parametrize("miss_ttl", [None, 5.0])
def test_ttl_cache_misses(miss_ttl):
    clock = FakeClock()
    values: dict[str, str] = {}
    loads: list[str] = []

    def load(key: str) -> str | None:
        loads.append(key)
        return values.get(key)

    cache = TtlCache[str](load, 10.0, clock.monotonic, miss_ttl=miss_ttl, max_misses=2)
    assert cache.get("a") is None
    values["a"] = "A"
    if miss_ttl is None:
        assert cache.get("a") == "A"
        assert loads == ["a", "a"]
        return
    assert cache.get("a") is None  # the miss is remembered for miss_ttl
    clock.advance(seconds=miss_ttl)
    assert cache.get("a") == "A"
    assert loads == ["a", "a"]
    # Only the max_misses most recently asked for are kept.
    for key in ("x", "y", "z"):
        cache.get(key)
    cache.get("x")
    assert loads[-1] == "x" and loads.count("x") == 2


def test_admin_principals_never_read_the_catalog(world: World):
    key, limit_ = world.rate_limits.bucket_for(Principal(key_id="key_a", scope=Scope.ADMIN))
    assert (key, limit_) == ("k#key_a", world.rate_limits.default_limit())
    assert sum(world.stores.tenant_repo.reads.values()) == 0
