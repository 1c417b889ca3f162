"""/v1/tenants - admin manages; a tenant key reads its own tenant and limits.

A plan change (``PATCH`` with ``plan``) needs a ``reason``; plan and limit changes are audited."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.limit_schemas import ApiRateLimitOut, EffectiveLimitOut, LimitOut, TenantLimitsIn, TenantLimitsOut
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_for
from tollgate.api.schemas import Page, TenantCreate, TenantOut, TenantPatch
from tollgate.domain.ids import ID_MAX_LENGTH, NEW_ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.services.ratelimit import ApiRateLimits
from tollgate.services.tenants import TenantService

from .common import Cursor, Limit, paged

TenantPath = Annotated[str, Path(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]


def build_router(tenants: TenantService, ratelimit: ApiRateLimits) -> Router:
    router = Router()

    @router.post(
        "/v1/tenants",
        status_code=201,
        tags=["Tenants"],
        summary="Create a tenant",
        responses=error_responses(400, 401, 403, 409, 413, 415, 422),
    )
    def create_tenant(request: Request, body: TenantCreate) -> TenantOut:
        p = require(caller(request), Scope.ADMIN)
        return TenantOut.of(tenants.create_tenant(body.model_dump(), actor=p.key_id))

    @router.get("/v1/tenants", tags=["Tenants"], summary="List tenants", responses=error_responses(401, 403, 422))
    def list_tenants(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Page[TenantOut]:
        require(caller(request), Scope.ADMIN)
        items, nxt = paged(tenants.list_tenants, limit, cursor)
        return Page[TenantOut](items=[TenantOut.of(t) for t in items], next_cursor=nxt)

    @router.get(
        "/v1/tenants/<tenant_id>",
        tags=["Tenants"],
        summary="Read a tenant",
        responses=error_responses(401, 403, 404, 422),
    )
    def get_tenant(request: Request, tenant_id: TenantPath) -> TenantOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        return TenantOut.of(tenants.get_tenant(tenant_for(p, tenant_id)))

    @router.patch(
        "/v1/tenants/<tenant_id>",
        tags=["Tenants"],
        summary="Update a tenant (a plan change needs a reason and is audited)",
        responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
    )
    def update_tenant(request: Request, tenant_id: TenantPath, body: TenantPatch) -> TenantOut:
        p = require(caller(request), Scope.ADMIN)
        changes = body.model_dump(exclude_unset=True)
        reason = changes.pop("reason", None)
        return TenantOut.of(tenants.update_tenant(tenant_id, changes, actor=p.key_id, reason=reason))

    def _limits_out(tenant_id: str) -> TenantLimitsOut:
        tenant, overrides, effective, rate = tenants.limits_view(tenant_id)
        return TenantLimitsOut(
            tenant=tenant.id,
            plan=tenant.plan,
            overrides=[LimitOut.of(lim) for lim in overrides],
            effective=[EffectiveLimitOut.of_effective(e) for e in effective],
            api_rate_limit=ApiRateLimitOut.of(rate or ratelimit.default_limit()),
        )

    @router.get(
        "/v1/tenants/<tenant_id>/limits",
        tags=["Tenants"],
        summary="A tenant's limit overrides and effective limits (plan + overrides)",
        responses=error_responses(401, 403, 404, 422),
    )
    def get_tenant_limits(request: Request, tenant_id: TenantPath) -> TenantLimitsOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        return _limits_out(tenant_for(p, tenant_id))

    @router.put(
        "/v1/tenants/<tenant_id>/limits",
        tags=["Tenants"],
        summary="Replace a tenant's limit overrides (audited)",
        responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
    )
    def put_tenant_limits(request: Request, tenant_id: TenantPath, body: TenantLimitsIn) -> TenantLimitsOut:
        p = require(caller(request), Scope.ADMIN)
        tenants.set_overrides(tenant_id, [lim.domain() for lim in body.limits], actor=p.key_id, reason=body.reason)
        return _limits_out(tenant_id)

    return router
