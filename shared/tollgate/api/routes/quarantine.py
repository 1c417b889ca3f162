"""GET /v1/events/rejected - events accepted but not countable, quarantined by the consumer
(admin only). Ingest rejects every value it knows no write could store, so an entry here is a
bug or a limit we missed: the rest of the event's message was counted."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request
from pydantic import BaseModel, Field

from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require
from tollgate.domain.ids import ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.services.quarantine import QuarantineService

from .common import Cursor, Limit, paged


class RejectedEventOut(BaseModel):
    id: str = Field(description="The event id (non-ASCII text escaped as `\\uXXXX`).")
    type: str | None = Field(description="The meter key.")
    time: str | None = Field(description="The event's time, UTC.")
    reason: str = Field(description="Why it could not be counted.")
    quarantined_at: str = Field(description="When the consumer set it aside, UTC.")
    event: dict[str, Any] = Field(
        description="The event as queued (`value` as counted, `dims`, `data`); "
        "a lone surrogate shows as U+FFFD, and `data` that cannot be "
        "shown (nested too deep) is null, with `dataomitted` saying why."
    )


class RejectedPage(BaseModel):
    items: list[RejectedEventOut] = Field(description="Newest event time first.")
    next_cursor: str | None


def build_router(quarantine: QuarantineService) -> Router:
    router = Router()

    @router.get(
        "/v1/events/rejected",
        tags=["Events"],
        summary="Events quarantined by the consumer (admin)",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def list_rejected(
        request: Request,
        tenant: Annotated[str, Query(pattern=ID_PATTERN, description="The tenant.")],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> RejectedPage:
        require(caller(request), Scope.ADMIN)
        items, nxt = paged(lambda n, c: quarantine.list_rejected(tenant, n, c), limit, cursor)
        return RejectedPage(items=[RejectedEventOut(**i) for i in items], next_cursor=nxt)

    return router
