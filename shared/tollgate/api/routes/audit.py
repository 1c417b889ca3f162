"""GET /v1/audit - the audit trail of a tenant (admin, or a tenant key for its own) or of a
plan (admin), newest first."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.limit_schemas import AuditOut
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_for
from tollgate.api.schemas import Page
from tollgate.domain.audit import plan_subject, tenant_subject
from tollgate.domain.errors import FieldError, Forbidden, ValidationFailed
from tollgate.domain.ids import ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.services.audit import AuditService
from tollgate.services.tenants import TenantService

from .common import Cursor, Limit, paged

Id = ID_PATTERN


def build_router(audit: AuditService, tenants: TenantService) -> Router:
    router = Router()

    @router.get(
        "/v1/audit",
        tags=["Audit"],
        summary="Plan, limit and invoice changes, newest first",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def list_audit(
        request: Request,
        tenant: Annotated[str | None, Query(pattern=Id, description="Implied by a tenant key.")] = None,
        plan: Annotated[
            str | None, Query(pattern=Id, description="A plan's changes (admin); instead of tenant.")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[AuditOut]:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        if plan is not None:
            if p.scope is not Scope.ADMIN:
                raise Forbidden("a plan's audit trail needs an admin key")
            if tenant is not None:
                raise ValidationFailed("give tenant or plan, not both", [FieldError("plan", "not with tenant")])
            subject = plan_subject(plan)
        else:
            tenant_id = tenant_for(p, tenant)
            tenants.get_tenant(tenant_id)
            subject = tenant_subject(tenant_id)
        items, nxt = paged(lambda n, c: audit.list_entries(subject, n, c), limit, cursor)
        return Page[AuditOut](items=[AuditOut.of(e) for e in items], next_cursor=nxt)

    return router
