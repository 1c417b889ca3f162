"""GET /v1/analytics/usage - cross-tenant usage from the roll-ups (admin only; docs/analytics.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.analytics_schemas import AnalyticsOut
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require
from tollgate.api.schemas import Instant
from tollgate.domain.ids import ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.domain.meters import METER_KEY_PATTERN
from tollgate.domain.rollups import Interval
from tollgate.services import analytics as a


def build_router(analytics: a.AnalyticsService) -> Router:
    router = Router()

    @router.get(
        "/v1/analytics/usage",
        tags=["Analytics"],
        summary="A sum or count meter's usage across tenants by day, ISO week or month (roll-ups, refreshed "
        "every 10 minutes), optionally by plan or the top tenants",
        responses=error_responses(401, 403, 404, 422),
    )
    def analytics_usage(
        request: Request,
        meter: Annotated[str, Query(pattern=METER_KEY_PATTERN)],
        from_: Annotated[
            Instant | None,
            Query(alias="from", description="Inclusive; snapped down to its bucket's start. Default: `to` - 30 days."),
        ] = None,
        to: Annotated[
            Instant | None,
            Query(description="Exclusive; snapped up to a bucket's end. Default: the end of today."),
        ] = None,
        interval: Annotated[Interval, Query(description="Buckets: day, week (ISO, from Monday) or month.")] = (
            Interval.DAY
        ),
        tenant: Annotated[
            str | None,
            Query(pattern=ID_PATTERN, description="One tenant, in its own time zone (as GET /v1/usage)."),
        ] = None,
        plan: Annotated[
            str | None, Query(pattern=ID_PATTERN, description="Only tenants on this plan when rolled up.")
        ] = None,
        group_by: Annotated[Literal["tenant", "plan", "none"], Query()] = "none",
        limit: Annotated[int, Query(ge=1, le=100, description="Groups returned, 1 to 100.")] = a.DEFAULT_LIMIT,
    ) -> AnalyticsOut:
        require(caller(request), Scope.ADMIN)
        query = a.Query(meter, from_, to, interval, tenant, plan, group_by, limit)
        return AnalyticsOut.of(analytics.usage(query))

    return router
