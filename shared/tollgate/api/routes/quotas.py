"""GET /v1/quotas - admin, or a tenant key for its own tenant."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.limit_schemas import QuotaOut, QuotasOut
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_for
from tollgate.domain.keys import Scope
from tollgate.domain.meters import METER_KEY_PATTERN
from tollgate.services.meters import MeterService
from tollgate.services.quotas import QuotaService

from .common import TenantQ


def build_router(quotas: QuotaService, meters: MeterService) -> Router:
    router = Router()

    @router.get(
        "/v1/quotas",
        tags=["Quotas"],
        summary="A tenant's limits and their usage in the current windows",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def get_quotas(
        request: Request,
        tenant: TenantQ = None,
        meter: Annotated[str | None, Query(pattern=METER_KEY_PATTERN, description="Only this meter's limits.")] = None,
    ) -> QuotasOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        tenant_id = tenant_for(p, tenant)
        if meter is not None:
            meters.get_meter(meter)
        q = quotas.quotas(tenant_id, meter)
        return QuotasOut(
            tenant=q.tenant.id, timezone=q.tenant.timezone, quotas=[QuotaOut.of(s, q.timezone) for s in q.states]
        )

    return router
