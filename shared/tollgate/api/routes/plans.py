"""/v1/plans - admin only. Every change is audited."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.limit_schemas import PlanIn, PlanOut
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require
from tollgate.api.schemas import Page
from tollgate.domain.ids import ID_MAX_LENGTH, NEW_ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.services.plans import PlanService

from .common import Cursor, Limit, paged

PlanPath = Annotated[str, Path(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]


def build_router(plans: PlanService) -> Router:
    router = Router()

    @router.put(
        "/v1/plans/<plan_id>",
        tags=["Plans"],
        summary="Create or replace a plan (audited)",
        responses=error_responses(400, 401, 403, 409, 413, 415, 422, 429),
    )
    def put_plan(request: Request, plan_id: PlanPath, body: PlanIn) -> PlanOut:
        p = require(caller(request), Scope.ADMIN)
        plan, _ = plans.put_plan(
            plan_id,
            body.name,
            [lim.domain() for lim in body.limits],
            body.api_rate_limit.domain() if body.api_rate_limit else None,
            actor=p.key_id,
            reason=body.reason,
            currency=body.currency,
            base_fee=body.base_fee,
            minimum_commitment=body.minimum_commitment,
            charges=body.raw_charges(),
            late_fee=body.late_fee.domain() if body.late_fee else None,
        )
        return PlanOut.of(plan)

    @router.get("/v1/plans", tags=["Plans"], summary="List plans", responses=error_responses(401, 403, 422, 429))
    def list_plans(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Page[PlanOut]:
        require(caller(request), Scope.ADMIN)
        items, nxt = paged(plans.list_plans, limit, cursor)
        return Page[PlanOut](items=[PlanOut.of(p) for p in items], next_cursor=nxt)

    @router.get(
        "/v1/plans/<plan_id>", tags=["Plans"], summary="Read a plan", responses=error_responses(401, 403, 404, 422, 429)
    )
    def get_plan(request: Request, plan_id: PlanPath) -> PlanOut:
        require(caller(request), Scope.ADMIN)
        return PlanOut.of(plans.get_plan(plan_id))

    return router
