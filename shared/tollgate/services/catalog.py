"""The catalog: one per-environment cache of configuration - tenants, meters, plans, limit
overrides and, derived from them, a tenant's effective limits and API rate limit.

The hot paths (ingest, consume, the API rate limit) read configuration through it; writes go
to the repositories and then call ``invalidate_*``, so the environment that made a change sees
it at once. Other environments (other functions, other instances) see it within ``ttl``: one
policy, ``CONFIG_TTL_S``, for everything the catalog holds. Misses are never cached, so a new
tenant or meter is usable at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from tollgate.domain.meters import MeterSpec
from tollgate.domain.plans import ApiRateLimit, EffectiveLimit, Limit, Plan, effective_limits
from tollgate.domain.records import Meter, Tenant

from .ports import MeterRepository, OverridesRepository, PlanRepository, TenantRepository

T = TypeVar("T")

CONFIG_TTL_S = 10.0
"""How long an environment reuses configuration it read. A change made elsewhere reaches every
reader within this time (tenant zone, meter spec, plan limits, overrides, API rate limit)."""


class TtlCache(Generic[T]):
    """Caches found values for ``ttl`` seconds. Misses are not cached by default, so a new
    tenant or meter is usable at once; with ``miss_ttl`` they are, for that long, the
    ``max_misses`` most recently asked for (least recently used dropped first), so a flood of
    one unknown key costs one read per ``miss_ttl`` and a flood of many costs bounded memory.
    Thread-safe; per Lambda instance."""

    def __init__(
        self,
        loader: Callable[[str], T | None],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        miss_ttl: float | None = None,
        max_misses: int = 10_000,
    ):
        self._loader = loader
        self._ttl = ttl
        self._clock = clock
        self._items: dict[str, tuple[float, T]] = {}
        self._miss_ttl = miss_ttl
        self._max_misses = max_misses
        self._misses: OrderedDict[str, float] = OrderedDict()  # key -> expiry, least recently used first
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] > now:
                return hit[1]
            missed_until = self._misses.get(key)
            if missed_until is not None:
                if missed_until > now:
                    self._misses.move_to_end(key)
                    return None
                del self._misses[key]
        value = self._loader(key)
        with self._lock:
            if value is not None:
                self._items[key] = (now + self._ttl, value)
            elif self._miss_ttl is not None:
                self._misses[key] = now + self._miss_ttl
                self._misses.move_to_end(key)
                while len(self._misses) > self._max_misses:
                    self._misses.popitem(last=False)
        return value

    def invalidate(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._items.clear()
                self._misses.clear()
            else:
                self._items.pop(key, None)
                self._misses.pop(key, None)


class Catalog:
    """Tenants, meters, plans and overrides, cached for ``ttl`` seconds."""

    def __init__(
        self,
        tenants: TenantRepository,
        meters: MeterRepository,
        plans: PlanRepository,
        overrides: OverridesRepository,
        *,
        ttl: float = CONFIG_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tenants = TtlCache[Tenant](lambda tenant_id: tenants.get(tenant_id), ttl, clock)
        self._meters = TtlCache[Meter](meters.get, ttl, clock)
        self._plans = TtlCache[Plan](lambda plan_id: plans.get(plan_id), ttl, clock)
        # An empty tuple is a found value, so "no overrides" is cached too (no read per request).
        self._overrides = TtlCache[tuple[Limit, ...]](lambda tenant_id: overrides.get(tenant_id)[0], ttl, clock)

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def meter(self, key: str) -> Meter | None:
        return self._meters.get(key)

    def plan(self, plan_id: str) -> Plan | None:
        return self._plans.get(plan_id)

    def timezone_of(self, tenant_id: str) -> str | None:
        """The tenant's zone name; None for an unknown tenant (the event validator's lookup)."""
        tenant = self._tenants.get(tenant_id)
        return tenant.timezone if tenant else None

    def meter_spec(self, key: str) -> MeterSpec | None:
        """How the meter counts; None for an unknown meter (the event validator's lookup)."""
        meter = self._meters.get(key)
        return meter.spec() if meter else None

    def overrides(self, tenant_id: str) -> tuple[Limit, ...]:
        return self._overrides.get(tenant_id) or ()

    def effective_limits(self, tenant: Tenant) -> list[EffectiveLimit]:
        plan = self.plan(tenant.plan) if tenant.plan else None
        return effective_limits(plan.limits if plan else (), self.overrides(tenant.id))

    def api_rate_limit(self, tenant_id: str) -> ApiRateLimit | None:
        """The tenant's plan's API rate limit; None for the default (no tenant, no plan, or a
        plan that sets none)."""
        tenant = self.tenant(tenant_id)
        plan = self.plan(tenant.plan) if tenant is not None and tenant.plan else None
        return plan.api_rate_limit if plan is not None else None

    # -------------------------------------------------------------- invalidation
    def invalidate_tenant(self, tenant_id: str) -> None:
        """The tenant, its plan choice or its overrides changed (in this environment)."""
        self._tenants.invalidate(tenant_id)
        self._overrides.invalidate(tenant_id)

    def invalidate_plan(self, plan_id: str) -> None:
        self._plans.invalidate(plan_id)

    def invalidate_meter(self, key: str) -> None:
        self._meters.invalidate(key)
