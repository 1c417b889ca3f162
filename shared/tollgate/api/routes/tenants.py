"""/v1/tenants - admin manages; a tenant key reads its own tenant."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tollgate.api.http import require, tenant_for
from tollgate.api.problems import error_responses
from tollgate.api.schemas import TENANT_ID_PATTERN, Page, TenantCreate, TenantOut, TenantPatch
from tollgate.domain.keys import Scope
from tollgate.usecases import tenants

from .common import Cursor, Limit, paged

router = Router()
TenantPath = Annotated[str, Path(pattern=TENANT_ID_PATTERN)]


@router.post("/v1/tenants", status_code=201, tags=["Tenants"], summary="Create a tenant",
             responses=error_responses(400, 401, 403, 409, 413, 415, 422))
def create_tenant(body: TenantCreate) -> TenantOut:
    require(router, Scope.ADMIN)
    return TenantOut.of(tenants.create_tenant(body.model_dump()))


@router.get("/v1/tenants", tags=["Tenants"], summary="List tenants", responses=error_responses(401, 403, 422))
def list_tenants(limit: Limit = 50, cursor: Cursor = None) -> Page[TenantOut]:
    require(router, Scope.ADMIN)
    items, nxt = paged(tenants.list_tenants, limit, cursor)
    return Page[TenantOut](items=[TenantOut.of(t) for t in items], next_cursor=nxt)


@router.get("/v1/tenants/<tenant_id>", tags=["Tenants"], summary="Read a tenant",
            responses=error_responses(401, 403, 404, 422))
def get_tenant(tenant_id: TenantPath) -> TenantOut:
    p = require(router, Scope.ADMIN, Scope.TENANT)
    return TenantOut.of(tenants.get_tenant(tenant_for(p, tenant_id)))


@router.patch("/v1/tenants/<tenant_id>", tags=["Tenants"], summary="Update a tenant",
              responses=error_responses(400, 401, 403, 404, 413, 415, 422))
def update_tenant(tenant_id: TenantPath, body: TenantPatch) -> TenantOut:
    require(router, Scope.ADMIN)
    return TenantOut.of(tenants.update_tenant(tenant_id, body.model_dump(exclude_unset=True)))
