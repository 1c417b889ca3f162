"""Unit tests of the services on the in-memory fakes (tests/fakes): no moto, no AWS."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.world import World
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.plans import ApiRateLimit, Enforcement, Limit
from tollgate.domain.records import Meter, Tenant


@pytest.fixture
def world() -> World:
    return World()


def limit(meter: str, window: Window, amount: int | str, enforcement: Enforcement = Enforcement.HARD) -> Limit:
    return Limit(meter=meter, window=window, limit=Decimal(amount), enforcement=enforcement)


def rate(per_second: int, burst: int) -> ApiRateLimit:
    return ApiRateLimit(per_second=Decimal(per_second), burst=burst)


def add_plan(world: World, plan_id: str, limits: list[Limit], api_rate: ApiRateLimit | None = None) -> None:
    world.plans.put_plan(plan_id, plan_id.title(), limits, api_rate, actor="key_admin", reason="test")


def add_tenant(world: World, tenant_id: str, **fields: Any) -> Tenant:
    return world.tenants.create_tenant({"id": tenant_id, "name": tenant_id.title(), **fields}, actor="key_admin")


def add_meter(world: World, key: str, aggregation: Aggregation = Aggregation.SUM, **fields: Any) -> Meter:
    return world.meters.create_meter({"key": key, "name": key, "aggregation": aggregation, **fields})


def tenant_principal(tenant_id: str, key_id: str = "key_t") -> Principal:
    return Principal(key_id=key_id, scope=Scope.TENANT, tenant_id=tenant_id)


def fields_of(exc: ValidationFailed) -> list[str]:
    return [e.field for e in exc.errors]
