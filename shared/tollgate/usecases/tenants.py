"""Tenants: the operator's customers, with their currency and billing time zone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tollgate.adapters.repos import TenantRepo
from tollgate.domain.errors import NotFound
from tollgate.domain.records import Tenant

from . import clock

repo = TenantRepo()


def create_tenant(fields: dict[str, Any]) -> Tenant:
    at = clock.now()
    tenant = Tenant(created_at=at, updated_at=at, **fields)
    repo.create(tenant)
    return tenant


def get_tenant(tenant_id: str) -> Tenant:
    tenant = repo.get(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return tenant


def list_tenants(limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
    return repo.list(limit, cursor)


def update_tenant(tenant_id: str, changes: dict[str, Any]) -> Tenant:
    current = repo.get(tenant_id, consistent=True)
    if current is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    updated = replace(current, **changes, updated_at=clock.now())
    repo.replace(updated)
    return updated
