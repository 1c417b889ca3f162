"""A tenant's effective limits, their counters, and ``GET /v1/quotas``.

The limits (tenant, plan, overrides, meters) are configuration, read on the consume hot path
through per-instance caches (``CONFIG_TTL_S``); the counters are always read from DynamoDB.
``used`` is the counter the consumer keeps for events, to which consumes add: the same item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tollgate.adapters.entitlements import OverridesRepo
from tollgate.adapters.quota_store import CounterValue, QuotaStore
from tollgate.adapters.repos import MeterRepo, TenantRepo, TtlCache
from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey
from tollgate.domain.errors import NotFound
from tollgate.domain.meters import Aggregation
from tollgate.domain.plans import EffectiveLimit, Limit, effective_limits
from tollgate.domain.quota import LimitState, bounds
from tollgate.domain.records import Meter, Tenant

from . import clock
from .plans import CONFIG_TTL_S, plan_cache

_tenants = TenantRepo()
_meters = MeterRepo()
overrides_repo = OverridesRepo()

tenant_cache = TtlCache[Tenant](lambda tenant_id: _tenants.get(tenant_id), ttl=CONFIG_TTL_S)
meter_cache = TtlCache[Meter](lambda key: _meters.get(key), ttl=CONFIG_TTL_S)
# An empty tuple is a found value, so "no overrides" is cached too (no read per request).
overrides_cache = TtlCache[tuple[Limit, ...]](lambda tenant_id: overrides_repo.get(tenant_id)[0], ttl=CONFIG_TTL_S)

store = QuotaStore()


def invalidate(tenant_id: str | None = None) -> None:
    """Forget cached configuration (after a change made in this process)."""
    tenant_cache.invalidate(tenant_id)
    overrides_cache.invalidate(tenant_id)
    if tenant_id is None:
        meter_cache.invalidate()
        plan_cache.invalidate()


def reset_all() -> None:
    """Forget every per-process cache of the quota code: configuration, the consume path's
    known counter values and the rate limiter's leases. For tests, whose tables are new each
    time (production tables do not vanish)."""
    from . import consume, ratelimit  # noqa: PLC0415 - both import this module

    invalidate()
    consume.known.reset()
    ratelimit.reset()


def cached_tenant(tenant_id: str) -> Tenant:
    tenant = tenant_cache.get(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return tenant


def cached_meter(key: str) -> Meter:
    meter = meter_cache.get(key)
    if meter is None:
        raise NotFound(f"meter {key!r} not found")
    return meter


def effective_for(tenant: Tenant) -> list[EffectiveLimit]:
    plan = plan_cache.get(tenant.plan) if tenant.plan else None
    return effective_limits(plan.limits if plan else (), overrides_cache.get(tenant.id) or ())


def counter_key(tenant: str, limit: Limit, start: datetime | None) -> CounterKey:
    return CounterKey(keys.total_pk(tenant, limit.meter, limit.window), keys.total_sk(periods.utc_key(start)))


def used_of(value: CounterValue, aggregation: Aggregation | None) -> Decimal:
    if aggregation is Aggregation.UNIQUE_COUNT:
        return Decimal(value.uniques)
    return value.value if value.value is not None else Decimal(0)


@dataclass(frozen=True)
class TenantQuotas:
    tenant: Tenant
    states: list[LimitState]
    timezone: ZoneInfo


def states_for(
    tenant_id: str,
    limits: Sequence[Limit],
    at: datetime,
    tz: ZoneInfo,
    values: dict[CounterKey, CounterValue],
    aggregations: dict[str, Aggregation | None],
) -> list[LimitState]:
    out = []
    for lim in limits:
        b = bounds(at, lim.window, tz)
        value = values.get(counter_key(tenant_id, lim, b.start), CounterValue(None, 0))
        out.append(LimitState(lim, used_of(value, aggregations.get(lim.meter)), b))
    return out


def quotas(tenant_id: str, meter: str | None = None) -> TenantQuotas:
    """Every effective limit of the tenant (optionally of one meter) with its usage now.

    Configuration is read fresh here (not from the hot-path caches)."""
    tenant = _tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    from .plans import find_plan  # noqa: PLC0415

    plan = find_plan(tenant.plan) if tenant.plan else None
    limits = [
        e.limit
        for e in effective_limits(plan.limits if plan else (), overrides_repo.get(tenant.id)[0])
        if meter is None or e.limit.meter == meter
    ]
    tz = periods.zone(tenant.timezone)
    now = clock.now()
    counter_keys = [counter_key(tenant.id, lim, bounds(now, lim.window, tz).start) for lim in limits]
    _, values = store.read(None, counter_keys)
    aggregations: dict[str, Aggregation | None] = {}
    for m in {lim.meter for lim in limits}:
        found = _meters.get(m)
        aggregations[m] = found.aggregation if found else None
    return TenantQuotas(tenant, states_for(tenant.id, limits, now, tz, values, aggregations), tz)
