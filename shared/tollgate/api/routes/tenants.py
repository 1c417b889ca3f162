"""/v1/tenants - admin manages; a tenant key reads its own tenant and limits. Each tenant
carries its stored health (services/health.py), which the list filters on.

A plan change (``PATCH`` with ``plan``) needs a ``reason``; plan and limit changes are audited."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.limit_schemas import (
    ApiRateLimitOut,
    EffectiveLimitOut,
    LimitOut,
    QuotaOut,
    TenantLimitsIn,
    TenantLimitsOut,
    TenantRowOut,
)
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_for
from tollgate.api.schemas import Page, TenantCreate, TenantOut, TenantPatch
from tollgate.domain.ids import ID_MAX_LENGTH, ID_PATTERN, NEW_ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.domain.quota import Status
from tollgate.services.health import HealthService, Row
from tollgate.services.quotas import QuotaService
from tollgate.services.ratelimit import ApiRateLimits
from tollgate.services.tenant_ranking import TenantRanking
from tollgate.services.tenants import TenantService

from .common import Cursor, Flag, Limit, flag, paged

TenantPath = Annotated[str, Path(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]


HealthStatusQ = Annotated[
    Status | None,
    Query(
        description="Only tenants whose stored health is at this level. caution, warning and critical are a query "
        "of the stored health (by_status index); healthy walks the tenant list and drops the others."
    ),
]
OveragesQ = Annotated[
    Flag | None,
    Query(description="`true`: only tenants with a window over its limit (they are critical); `false`: only without."),
]
PlanQ = Annotated[str | None, Query(pattern=ID_PATTERN, description="Only tenants on this plan.")]
SearchQ = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="Only tenants whose id or name starts with this, ignoring case: the id matches in id order, "
        "then the name matches in name order.",
    ),
]
SortQ = Annotated[
    str | None,
    Query(
        pattern=r"^usage:[a-zA-Z0-9_.:-]{1,64}$",
        description="`usage:<meter>` (a sum or count meter): the tenants with usage in the current month of the "
        "operator's zone, most first, from the analytics roll-ups (refreshed every 10 minutes; tenants without "
        "usage are not listed). Combines with the filters.",
    ),
]
IncludeQ = Annotated[
    Literal["quotas"] | None,
    Query(
        description="`quotas`: each listed tenant also carries its quotas now (`quotas`, as GET /v1/quotas?tenant= "
        "gives them), read for the whole page at once: a console's quota bars in one request."
    ),
]


def _rows_out(rows: list[Row], quotas: QuotaService | None) -> list[TenantRowOut]:
    """The page's tenants, with their quotas when ``quotas`` is given (one snapshot of the page:
    its counters read 100 keys a request)."""
    if quotas is None:
        return [TenantRowOut.of(t, h) for t, h in rows]
    snapshot = {q.tenant.id: q for q in quotas.snapshot([t for t, _ in rows])}
    out = []
    for t, h in rows:
        now = snapshot[t.id]
        row = TenantRowOut.of(t, h)
        row.quotas = [QuotaOut.of(s, now.timezone) for s in now.states]
        out.append(row)
    return out


def build_router(
    tenants: TenantService,
    ratelimit: ApiRateLimits,
    health: HealthService,
    ranking: TenantRanking,
    quotas: QuotaService,
) -> Router:
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
        return TenantOut.of(tenants.create_tenant(body.fields(), actor=p.key_id))  # never evaluated yet

    @router.get(
        "/v1/tenants",
        tags=["Tenants"],
        summary="List tenants with their health; q, health_status, has_overages and plan filter and combine, "
        "sort=usage:<meter> ranks (a filtered page may be short while next_cursor is not null)",
        responses=error_responses(401, 403, 422),
    )
    def list_tenants(
        request: Request,
        health_status: HealthStatusQ = None,
        has_overages: OveragesQ = None,
        plan: PlanQ = None,
        q: SearchQ = None,
        sort: SortQ = None,
        include: IncludeQ = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[TenantRowOut]:
        require(caller(request), Scope.ADMIN)
        overages = flag(has_overages)
        if sort is not None:
            meter = sort.removeprefix("usage:")
            rows, nxt = paged(
                lambda n, c: ranking.list_by_usage(
                    meter, n, c, status=health_status, has_overages=overages, plan=plan, q=q
                ),
                limit,
                cursor,
            )
        else:
            rows, nxt = paged(
                lambda n, c: health.list_tenants(n, c, status=health_status, has_overages=overages, plan=plan, q=q),
                limit,
                cursor,
            )
        return Page[TenantRowOut](items=_rows_out(rows, quotas if include else None), next_cursor=nxt)

    @router.get(
        "/v1/tenants/<tenant_id>",
        tags=["Tenants"],
        summary="Read a tenant",
        responses=error_responses(401, 403, 404, 422),
    )
    def get_tenant(request: Request, tenant_id: TenantPath) -> TenantOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        tenant = tenants.get_tenant(tenant_for(p, tenant_id))
        return TenantOut.of(tenant, health.of(tenant.id))

    @router.patch(
        "/v1/tenants/<tenant_id>",
        tags=["Tenants"],
        summary="Update a tenant (a plan change needs a reason and is audited)",
        responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
    )
    def update_tenant(request: Request, tenant_id: TenantPath, body: TenantPatch) -> TenantOut:
        p = require(caller(request), Scope.ADMIN)
        changes = body.changes()
        reason = changes.pop("reason", None)
        updated = tenants.update_tenant(tenant_id, changes, actor=p.key_id, reason=reason)
        return TenantOut.of(updated, health.of(tenant_id))

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
