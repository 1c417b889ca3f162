"""/v1/meters - admin creates; every key may read the catalogue."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require
from tollgate.api.schemas import MeterCreate, MeterOut, Page
from tollgate.domain.keys import Scope
from tollgate.domain.meters import METER_KEY_PATTERN
from tollgate.services.meters import MeterService

from .common import Cursor, Limit, paged

MeterPath = Annotated[str, Path(pattern=METER_KEY_PATTERN)]
ANY_SCOPE = (Scope.ADMIN, Scope.INGEST, Scope.TENANT)


def build_router(meters: MeterService) -> Router:
    router = Router()

    @router.post(
        "/v1/meters",
        status_code=201,
        tags=["Meters"],
        summary="Create a meter",
        responses=error_responses(400, 401, 403, 409, 413, 415, 422),
    )
    def create_meter(request: Request, body: MeterCreate) -> MeterOut:
        require(caller(request), Scope.ADMIN)
        return MeterOut.of(meters.create_meter(body.model_dump()))

    @router.get("/v1/meters", tags=["Meters"], summary="List meters", responses=error_responses(401, 422))
    def list_meters(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Page[MeterOut]:
        require(caller(request), *ANY_SCOPE)
        items, nxt = paged(meters.list_meters, limit, cursor)
        return Page[MeterOut](items=[MeterOut.of(m) for m in items], next_cursor=nxt)

    @router.get("/v1/meters/<key>", tags=["Meters"], summary="Read a meter", responses=error_responses(401, 404, 422))
    def get_meter(request: Request, key: MeterPath) -> MeterOut:
        require(caller(request), *ANY_SCOPE)
        return MeterOut.of(meters.get_meter(key))

    return router
