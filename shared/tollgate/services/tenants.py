"""Tenants: the operator's customers, with their currency, billing time zone, plan and limit
overrides. Plan and limit changes are audited (tollgate.domain.audit)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tollgate.domain.audit import Action, AuditEntry, tenant_subject
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed
from tollgate.domain.plans import ApiRateLimit, EffectiveLimit, Limit, effective_limits, sort_limits
from tollgate.domain.records import Tenant

from .catalog import Catalog
from .plans import check_windows
from .ports import Clock, OverridesRepository, PlanRepository, TenantRepository


class TenantService:
    def __init__(
        self,
        tenants: TenantRepository,
        overrides: OverridesRepository,
        plans: PlanRepository,
        catalog: Catalog,
        clock: Clock,
    ) -> None:
        self._tenants, self._overrides, self._plans = tenants, overrides, plans
        self._catalog, self._clock = catalog, clock

    def _require_plan(self, plan_id: str, currency: str, field: str = "plan") -> None:
        """The plan exists and prices in the tenant's currency (else 422 naming ``field``)."""
        plan = self._plans.get(plan_id, consistent=True)
        if plan is None:
            raise ValidationFailed(f"plan {plan_id!r} does not exist", [FieldError("plan", "no such plan")])
        if plan.currency != currency:
            message = f"plan {plan_id!r} prices in {plan.currency}; the tenant's currency is {currency}"
            raise ValidationFailed(message, [FieldError(field, message)])

    def create_tenant(self, fields: dict[str, Any], actor: str = "unknown") -> Tenant:
        at = self._clock.now()
        tenant = Tenant(created_at=at, updated_at=at, **fields)
        if tenant.plan is None:
            self._tenants.create(tenant)
        else:
            self._require_plan(tenant.plan, tenant.currency)
            entry = AuditEntry(
                subject=tenant_subject(tenant.id),
                at=at,
                actor=actor,
                action=Action.TENANT_CREATE,
                before=None,
                after={"plan": tenant.plan},
                reason="tenant created",
            )
            self._tenants.create_audited(tenant, entry)
        self._catalog.invalidate_tenant(tenant.id)
        return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return tenant

    def list_tenants(self, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
        return self._tenants.list(limit, cursor)

    def update_tenant(
        self, tenant_id: str, changes: dict[str, Any], actor: str = "unknown", reason: str | None = None
    ) -> Tenant:
        """A plan change needs a reason, and the plan must exist (or be null: no plan) and price
        in the tenant's currency; it is written together with its audit entry. A currency
        change must match the tenant's plan too (422 naming ``currency``)."""
        current = self._tenants.get(tenant_id, consistent=True)
        if current is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        plan_changes = "plan" in changes
        if plan_changes and not (reason and reason.strip()):
            raise ValidationFailed(
                "a plan change needs a reason", [FieldError("reason", "is required when plan is given")]
            )
        new_plan = changes["plan"] if plan_changes else current.plan
        currency = changes.get("currency") or current.currency
        if new_plan is not None and (plan_changes or currency != current.currency):
            self._require_plan(new_plan, currency, "plan" if plan_changes else "currency")
        updated = replace(current, **changes, updated_at=self._clock.now())
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
            self._tenants.replace_audited(updated, current, entry)
        else:
            self._tenants.replace(updated)
        self._catalog.invalidate_tenant(tenant_id)
        return updated

    # -------------------------------------------------------------- limit overrides
    def get_overrides(self, tenant_id: str) -> tuple[Limit, ...]:
        return self._overrides.get(tenant_id)[0]

    def set_overrides(
        self, tenant_id: str, limits: list[Limit], actor: str, reason: str | None = None
    ) -> tuple[Limit, ...]:
        """Replace the tenant's overrides (each replaces the plan's limit of its meter and
        window), with an audit entry."""
        self.get_tenant(tenant_id)
        check_windows(limits, self._catalog)
        previous, previous_at = self._overrides.get(tenant_id, consistent=True)
        new = tuple(sort_limits(limits))
        at = self._clock.now()
        entry = AuditEntry(
            subject=tenant_subject(tenant_id),
            at=at,
            actor=actor,
            action=Action.TENANT_LIMITS,
            before=[lim.as_dict() for lim in previous],
            after=[lim.as_dict() for lim in new],
            reason=reason,
        )
        self._overrides.put(tenant_id, new, at, previous_at, entry)
        self._catalog.invalidate_tenant(tenant_id)
        return new

    def limits_view(
        self, tenant_id: str
    ) -> tuple[Tenant, tuple[Limit, ...], list[EffectiveLimit], ApiRateLimit | None]:
        """The tenant, its overrides, its effective limits and its plan's API rate limit."""
        tenant = self.get_tenant(tenant_id)
        overrides = self.get_overrides(tenant_id)
        plan = self._plans.get(tenant.plan, consistent=True) if tenant.plan else None
        effective = effective_limits(plan.limits if plan else (), overrides)
        return tenant, overrides, effective, plan.api_rate_limit if plan else None
