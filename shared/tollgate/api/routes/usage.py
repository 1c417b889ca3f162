"""GET /v1/usage and GET /v1/events - admin, or a tenant key for its own tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_for
from tollgate.api.schemas import DIMENSION_PATTERN, EventsPage, Instant, SeriesPointOut, StoredEvent, UsageOut
from tollgate.domain.keys import Scope
from tollgate.domain.meters import METER_KEY_PATTERN
from tollgate.domain.periods import Window
from tollgate.services.events_log import EventsLogService
from tollgate.services.ports import Clock
from tollgate.services.usage import UsageService

from .common import Cursor, TenantQ

From = Annotated[
    Instant | None,
    Query(
        alias="from",
        description="RFC 3339 with offset, years 1970 to 9998; inclusive. Default: the start of the current month "
        "in the tenant's time zone.",
    ),
]
To = Annotated[
    Instant | None,
    Query(
        description="RFC 3339 with offset, years 1970 to 9998; exclusive. Default: the start of next month in the "
        "tenant's time zone (so with neither, the current month)."
    ),
]


def build_router(usage: UsageService, events_log: EventsLogService, clock: Clock) -> Router:
    router = Router()

    @router.get(
        "/v1/usage",
        tags=["Usage"],
        summary="A meter's usage series and total for a tenant",
        responses=error_responses(401, 403, 404, 422),
    )
    def get_usage(
        request: Request,
        meter: Annotated[str, Query(pattern=METER_KEY_PATTERN)],
        from_: From = None,
        to: To = None,
        window: Annotated[
            Literal["hour", "day", "month"],
            Query(
                description="The series' window. unique_count meters are counted by day and month only (422 for hour)."
            ),
        ] = "day",
        tenant: TenantQ = None,
        group_by: Annotated[str | None, Query(pattern=DIMENSION_PATTERN)] = None,
    ) -> UsageOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        u = usage.query_usage(tenant_for(p, tenant), meter, from_, to, Window(window), group_by)
        return UsageOut(
            tenant=u.tenant,
            meter=u.meter,
            aggregation=u.aggregation,
            window=u.window.value,
            timezone=u.timezone,
            from_=u.start,
            to=u.end,
            total=u.total,
            series=[SeriesPointOut(start=s.start, end=s.end, value=s.value, group=s.group) for s in u.series],
        )

    @router.get(
        "/v1/events",
        tags=["Events"],
        summary="Raw usage events as counted, newest first",
        responses=error_responses(401, 403, 404, 422),
    )
    def list_events(
        request: Request,
        tenant: TenantQ = None,
        from_: Annotated[Instant | None, Query(alias="from", description="Default: `to` minus 7 days.")] = None,
        to: Annotated[Instant | None, Query(description="Default: now.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Cursor = None,
    ) -> EventsPage:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        end = to or clock.now()
        start = from_ or end - timedelta(days=7)
        items, nxt = events_log.list_events(tenant_for(p, tenant), start, end, limit, cursor)
        return EventsPage(items=[StoredEvent(**e) for e in items], next_cursor=nxt)

    return router
