"""Tenants: the operator's customers, with their currency, billing time zone, plan and limit
overrides. Plan and limit changes are audited (tollgate.domain.audit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from tollgate.adapters.entitlements import OverridesRepo, TenantChanges
from tollgate.adapters.repos import TenantRepo
from tollgate.domain.audit import Action, AuditEntry, tenant_subject
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed
from tollgate.domain.plans import ApiRateLimit, EffectiveLimit, Limit, effective_limits, sort_limits
from tollgate.domain.records import Tenant

from . import clock

repo = TenantRepo()
changes = TenantChanges()
overrides_repo = OverridesRepo()


def _invalidate(tenant_id: str) -> None:
    from . import quotas, ratelimit  # noqa: PLC0415 - both import this package's other modules

    quotas.invalidate(tenant_id)
    ratelimit.invalidate(tenant_id)


def _require_plan(plan_id: str) -> None:
    from .plans import find_plan  # noqa: PLC0415

    if find_plan(plan_id) is None:
        raise ValidationFailed(f"plan {plan_id!r} does not exist", [FieldError("plan", "no such plan")])


def create_tenant(fields: dict[str, Any], actor: str = "unknown") -> Tenant:
    at = clock.now()
    tenant = Tenant(created_at=at, updated_at=at, **fields)
    if tenant.plan is None:
        repo.create(tenant)
    else:
        _require_plan(tenant.plan)
        entry = AuditEntry(
            subject=tenant_subject(tenant.id),
            at=at,
            actor=actor,
            action=Action.TENANT_CREATE,
            before=None,
            after={"plan": tenant.plan},
            reason="tenant created",
        )
        changes.create(tenant, entry)
    _invalidate(tenant.id)
    return tenant


def get_tenant(tenant_id: str) -> Tenant:
    tenant = repo.get(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return tenant


def list_tenants(limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
    return repo.list(limit, cursor)


def update_tenant(
    tenant_id: str, changes_: dict[str, Any], actor: str = "unknown", reason: str | None = None
) -> Tenant:
    """A plan change needs a reason, and the plan must exist (or be null: no plan); it is
    written together with its audit entry."""
    current = repo.get(tenant_id, consistent=True)
    if current is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    plan_changes = "plan" in changes_
    if plan_changes and not (reason and reason.strip()):
        raise ValidationFailed("a plan change needs a reason", [FieldError("reason", "is required when plan is given")])
    if plan_changes and changes_["plan"] is not None:
        _require_plan(changes_["plan"])
    updated = replace(current, **changes_, updated_at=clock.now())
    if plan_changes and updated.plan != current.plan:
        entry = AuditEntry(
            subject=tenant_subject(tenant_id),
            at=updated.updated_at,
            actor=actor,
            action=Action.TENANT_PLAN,
            before={"plan": current.plan},
            after={"plan": updated.plan},
            reason=reason,
        )
        changes.replace(updated, current, entry)
    else:
        repo.replace(updated)
    _invalidate(tenant_id)
    return updated


# ------------------------------------------------------------------ limit overrides
def get_overrides(tenant_id: str) -> tuple[Limit, ...]:
    return overrides_repo.get(tenant_id)[0]


def set_overrides(tenant_id: str, limits: list[Limit], actor: str, reason: str | None = None) -> tuple[Limit, ...]:
    """Replace the tenant's overrides (each replaces the plan's limit of its meter and
    window), with an audit entry."""
    get_tenant(tenant_id)
    previous, previous_at = overrides_repo.get(tenant_id, consistent=True)
    new = tuple(sort_limits(limits))
    at: datetime = clock.now()
    entry = AuditEntry(
        subject=tenant_subject(tenant_id),
        at=at,
        actor=actor,
        action=Action.TENANT_LIMITS,
        before=[lim.as_dict() for lim in previous],
        after=[lim.as_dict() for lim in new],
        reason=reason,
    )
    overrides_repo.put(tenant_id, new, at, previous_at, entry)
    _invalidate(tenant_id)
    return new


def limits_view(tenant_id: str) -> tuple[Tenant, tuple[Limit, ...], list[EffectiveLimit], ApiRateLimit | None]:
    """The tenant, its overrides, its effective limits and its plan's API rate limit."""
    from .plans import find_plan  # noqa: PLC0415

    tenant = get_tenant(tenant_id)
    overrides = get_overrides(tenant_id)
    plan = find_plan(tenant.plan) if tenant.plan else None
    effective = effective_limits(plan.limits if plan else (), overrides)
    return tenant, overrides, effective, plan.api_rate_limit if plan else None
