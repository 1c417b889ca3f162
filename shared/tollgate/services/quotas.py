"""A tenant's effective limits and their usage now: ``GET /v1/quotas``, and the quota snapshot
of many tenants that alerts and the operator dashboard read.

Configuration is read fresh here (consistent reads, not the hot-path catalog): an operator who
just changed a plan sees it. ``used`` is the counter the consumer keeps for events, to which
consumes add: the same item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey
from tollgate.domain.errors import NotFound
from tollgate.domain.plans import Limit, Plan, effective_limits
from tollgate.domain.quota import LimitState, bounds
from tollgate.domain.records import Tenant

from .ports import (
    Clock,
    CounterStore,
    CounterValue,
    OverridesRepository,
    PlanRepository,
    TenantRepository,
)

MAX_KEYS_PER_READ = 100
"""BatchGetItem takes at most 100 keys."""


def counter_key(tenant: str, limit: Limit, start: datetime | None) -> CounterKey:
    return CounterKey(keys.total_pk(tenant, limit.meter, limit.window), keys.total_sk(periods.utc_key(start)))


def used_of(value: CounterValue) -> Decimal:
    """A counter's usage: ``v`` for every aggregation (unique_count items hold their count)."""
    return value.value if value.value is not None else Decimal(0)


def states_for(
    tenant_id: str,
    limits: Sequence[Limit],
    at: datetime,
    tz: ZoneInfo,
    values: dict[CounterKey, CounterValue],
) -> list[LimitState]:
    out = []
    for lim in limits:
        b = bounds(at, lim.window, tz)
        value = values.get(counter_key(tenant_id, lim, b.start), CounterValue(None))
        out.append(LimitState(lim, used_of(value), b))
    return out


@dataclass(frozen=True)
class TenantQuotas:
    tenant: Tenant
    states: list[LimitState]
    timezone: ZoneInfo
    plan: Plan | None = None  # the tenant's plan, for an overage's cost (domain.alerts)


class QuotaService:
    def __init__(
        self,
        tenants: TenantRepository,
        plans: PlanRepository,
        overrides: OverridesRepository,
        counters: CounterStore,
        clock: Clock,
    ) -> None:
        self._tenants, self._plans, self._overrides = tenants, plans, overrides
        self._counters, self._clock = counters, clock

    def quotas(self, tenant_id: str, meter: str | None = None) -> TenantQuotas:
        """Every effective limit of the tenant (optionally of one meter) with its usage now."""
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return self.snapshot([tenant], meter)[0]

    def snapshot(self, tenants: Sequence[Tenant], meter: str | None = None) -> list[TenantQuotas]:
        """The quotas of many tenants at one instant, with their counters read in batches of
        100 keys (one request per 100 limits, not one per tenant)."""
        now = self._clock.now()
        plans: dict[str, Plan | None] = {}
        planned: list[tuple[Tenant, list[Limit], ZoneInfo]] = []
        tenant_plans: dict[str, Plan | None] = {}
        for tenant in tenants:
            plan = None
            if tenant.plan:
                plan = plans[tenant.plan] if tenant.plan in plans else self._plans.get(tenant.plan, consistent=True)
                plans[tenant.plan] = plan
            overrides = self._overrides.get(tenant.id)[0]
            limits = [
                e.limit
                for e in effective_limits(plan.limits if plan else (), overrides)
                if meter is None or e.limit.meter == meter
            ]
            planned.append((tenant, limits, periods.zone(tenant.timezone)))
            tenant_plans[tenant.id] = plan
        wanted = [counter_key(t.id, lim, bounds(now, lim.window, tz).start) for t, lims, tz in planned for lim in lims]
        values: dict[CounterKey, CounterValue] = {}
        for i in range(0, len(wanted), MAX_KEYS_PER_READ):
            values.update(self._counters.read(None, wanted[i : i + MAX_KEYS_PER_READ])[1])
        return [
            TenantQuotas(t, states_for(t.id, lims, now, tz, values), tz, tenant_plans[t.id]) for t, lims, tz in planned
        ]
