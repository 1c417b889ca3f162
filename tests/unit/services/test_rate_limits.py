"""ApiRateLimits on the fake BucketStore: which bucket, at what rate, and the limiter."""

from __future__ import annotations

from tests.fakes.world import DEFAULT_API_RATE, World
from tollgate.api.ratelimit_headers import rate_limit_headers
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.periods import Window

from .conftest import add_plan, add_tenant, limit, rate, tenant_principal

ADMIN = Principal(key_id="key_admin", scope=Scope.ADMIN)
INGEST = Principal(key_id="key_ingest", scope=Scope.INGEST)


def test_buckets_and_rates(world: World):
    add_plan(world, "pro", [limit("api_calls", Window.MONTH, 100)], rate(50, 100))
    add_plan(world, "norate", [limit("api_calls", Window.MONTH, 100)])
    add_tenant(world, "acme", plan="pro")
    add_tenant(world, "planless")
    add_tenant(world, "norate", plan="norate")
    limits = world.rate_limits
    assert limits.default_limit() == DEFAULT_API_RATE
    assert limits.bucket_for(tenant_principal("acme")) == ("t#acme", rate(50, 100))
    assert limits.bucket_for(tenant_principal("acme", key_id="key_other")) == ("t#acme", rate(50, 100))
    assert limits.bucket_for(tenant_principal("planless")) == ("t#planless", DEFAULT_API_RATE)
    assert limits.bucket_for(tenant_principal("norate")) == ("t#norate", DEFAULT_API_RATE)
    assert limits.bucket_for(ADMIN) == ("k#key_admin", DEFAULT_API_RATE)
    assert limits.bucket_for(INGEST) == ("k#key_ingest", DEFAULT_API_RATE)


def test_the_limiter_spends_the_bucket_then_denies(world: World):
    burst = DEFAULT_API_RATE.burst
    decisions = [world.rate_limits.check(ADMIN) for _ in range(burst + 1)]
    assert all(d.allowed for d in decisions[:burst])
    denied = decisions[-1]
    assert not denied.allowed and denied.bucket_key == "k#key_admin" and denied.retry_after_s > 0
    assert "Retry-After" in rate_limit_headers(denied)
    store = world.stores.bucket_store
    assert set(store.tat) == {"k#key_admin"}
    assert sum(store.writes.values()) >= 1

    world.clock.advance(seconds=2 * burst / float(DEFAULT_API_RATE.per_second))  # refilled
    assert world.rate_limits.check(ADMIN).allowed


def test_environments_share_the_bucket(world: World):
    other = world.another_environment()
    burst = DEFAULT_API_RATE.burst
    allowed = sum(env.rate_limits.check(ADMIN).allowed for _ in range(burst) for env in (world, other))
    assert allowed == burst  # both spend from one bucket item


def test_the_limiter_fails_open_when_the_store_is_unreachable(world: World):
    world.stores.bucket_store.fail = ConnectionError("unreachable")
    assert all(world.rate_limits.check(ADMIN).allowed for _ in range(3 * DEFAULT_API_RATE.burst))
    assert world.stores.bucket_store.writes == {}


def test_no_limiter_no_check():
    world = World(rate_limited=False)
    add_tenant(world, "acme")
    assert world.rate_limits.limiter is None
    assert world.rate_limits.check(ADMIN) is None
    assert world.rate_limits.check(tenant_principal("acme")) is None
    assert world.rate_limits.bucket_for(ADMIN) == ("k#key_admin", DEFAULT_API_RATE)
    assert world.stores.bucket_store.writes == {}
