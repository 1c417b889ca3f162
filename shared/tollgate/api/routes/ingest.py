"""POST /v1/events - record usage events (JSON, or CloudEvents 1.0 structured, batched or binary).

The body is read by the route itself, not by Powertools validation: one bad event must not
reject the other 999. The pydantic models below only document the body and the 202 response
in the OpenAPI document.

Each resolver gets its own ``Router`` from ``build_router()``: a Powertools router reads the
current event and the principal from the last resolver that included it, so one router object
shared by the ingest function's resolver and the docs resolver (the local stack runs both in one
process) would read the wrong request.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from tollgate.api import problems
from tollgate.api.cloudevents import MalformedBody, read_body
from tollgate.api.problems import FieldErrorOut
from tollgate.api.request import caller, media_type, raw_body, require
from tollgate.domain import events as ev
from tollgate.domain.ids import ID_MAX_LENGTH
from tollgate.domain.keys import Scope
from tollgate.domain.meters import METER_KEY_PATTERN
from tollgate.services import ingest as ingest_service
from tollgate.services.ingest import IngestService

logger = Logger(child=True)
metrics = Metrics()


# ------------------------------------------------------------------ documentation models
class EventIn(BaseModel):
    """A usage event: CloudEvents 1.0 attributes. Extension attributes (lowercase letters and
    digits) are accepted and not stored; any other unknown attribute is an error."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(
        min_length=1,
        max_length=ev.MAX_ID_LENGTH,
        description="Unique per tenant; a retry reuses it, and the event is counted once.",
    )
    type: str = Field(pattern=METER_KEY_PATTERN, description="The meter key.")
    subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=ID_MAX_LENGTH,
        description="The tenant id. Required with an admin or ingest key; a tenant key may omit it "
        "and may not name another tenant.",
    )
    time: datetime | None = Field(
        default=None,
        description="RFC 3339 with an offset (`Z` or `±hh:mm`); at most 35 days old and 5 minutes ahead. "
        "Default: when received. Stored in UTC.",
        examples=["2026-11-20T10:00:00Z"],
    )
    data: dict[str, Any] | None = Field(
        default=None,
        description="The value (at the meter's `value_property`, default `value`: a finite number, or "
        "numeric string; not negative on a sum meter) and the group-by dimensions.",
        examples=[{"value": 3, "region": "eu"}],
    )
    source: str | None = Field(default=None, min_length=1, max_length=ev.MAX_SOURCE_LENGTH)
    specversion: Literal["1.0"] | None = None
    datacontenttype: str | None = Field(default=None, description="If given, a JSON media type.")


EventsIn = Union[EventIn, list[EventIn]]  # noqa: UP007 - a runtime value for the body annotation


class RejectedOut(BaseModel):
    index: int = Field(description="Position of the event in the request (0 for a single event).")
    id: str | None = Field(description="The event's id, when it had a valid one.")
    errors: list[FieldErrorOut] = Field(description="`field` is `[index].attribute`, e.g. `[3].time`.")
    retryable: bool = Field(
        description="True when the event was valid but could not be queued (the queue refused it): send it "
        "again unchanged, with the same id. False when the event itself must be fixed first."
    )


class IngestOut(BaseModel):
    accepted: int = Field(description="Events now durably queued for counting.")
    duplicates: int = Field(
        description="Repeats of an id earlier in this same request (queued once). It counts "
        "repeats inside this request only: an id sent in an earlier request is "
        "accepted (and counted in `accepted`) and dropped later, when counted: "
        "dedupe across requests happens in the consumer."
    )
    rejected: list[RejectedOut] = Field(
        description="Events not recorded, with what to fix. Send them again once fixed (at once, unchanged, "
        "when `retryable` is true); the others are recorded."
    )


DESCRIPTION = f"""Record usage events. The body is one event or an array of up to {ev.MAX_EVENTS} (at most
1 MiB), as:

- `application/json`: an event object or an array of them;
- `application/cloudevents+json`: CloudEvents structured mode, one event;
- `application/cloudevents-batch+json`: CloudEvents batched mode, an array;
- CloudEvents binary mode: `ce-id`, `ce-type`, `ce-subject`, `ce-time`, ... headers, and the
  event's `data` as the `application/json` body.

Valid events are recorded even when others are not: the response is **202** with the count of
accepted events and each rejected event's errors. A 202 means the accepted events are durably
queued. A rejected event with `retryable: true` was valid but the queue refused it: send it again
unchanged (same id). If no event is valid the response is a 422 problem listing every event's errors
(`[3].time`); if nothing could be queued it is a 503 with `Retry-After` - send the same request
again (event ids make retries safe)."""

RESPONSES: dict[int, Any] = {
    202: {
        "description": "Accepted events are queued; see `rejected` for the others.",
        "content": {"application/json": {"model": IngestOut}},
    },
    **problems.error_responses(400, 401, 403, 413, 415, 422, 503),
}
RESPONSES[503] = {**RESPONSES[503], "description": "The queue is unavailable; retry after `Retry-After` seconds"}


def _reads_body_itself(fn: Callable[[Request, Any], Response]) -> Callable[..., Response]:
    """Keep ``fn``'s signature (it documents the body) but call it without the body: with route
    validation off, Powertools passes the request only, and the body is read raw."""

    @functools.wraps(fn)
    def handler(request: Request, **_path: Any) -> Response:
        return fn(request, None)

    return handler


# ------------------------------------------------------------------ the route
def build_router(ingest: IngestService) -> Router:
    router = Router()

    @router.post(
        "/v1/events",
        status_code=202,
        tags=["Events"],
        summary="Record usage events",
        description=DESCRIPTION,
        responses=RESPONSES,
        enable_validation=False,
    )
    @_reads_body_itself
    def post_events(
        request: Request,
        body: Annotated[EventsIn, Body(media_type="application/json", description="One event, or an array of events.")],
    ) -> Response[IngestOut]:
        principal = require(caller(request), Scope.ADMIN, Scope.INGEST, Scope.TENANT)
        raw = request.resolved_event.raw_event
        headers = raw.get("headers") or {}
        try:
            result = ingest.ingest(principal, read_body(media_type(headers), headers, raw_body(raw)))
        except MalformedBody as exc:
            return problems.bad_request(exc.detail)
        except ingest_service.QueueUnavailable as exc:
            logger.error("usage queue refused every message", extra={"detail": exc.detail})
            metrics.add_metric(name="IngestQueueFailures", unit=MetricUnit.Count, value=1)
            return problems.from_error(exc, {"Retry-After": str(exc.retry_after)})
        except ingest_service.NoValidEvents as exc:
            metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=exc.rejected)
            raise
        _record(result)
        return Response(202, "application/json", json.dumps(result.as_dict(), separators=(",", ":")))

    return router


def _record(result: ingest_service.IngestResult) -> None:
    """Counts only: never a key, a tenant id (not even as a metric dimension) or event data."""
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(result.rejected))
    metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=result.duplicates)
    metrics.add_metric(name="UsageMessagesSent", unit=MetricUnit.Count, value=result.messages)
    if result.queue_failed:
        metrics.add_metric(name="IngestQueueFailures", unit=MetricUnit.Count, value=1)
        logger.warning("some usage messages were refused by the queue", extra={"events": result.queue_failed})
    logger.info(
        "events ingested",
        extra={
            "accepted": result.accepted,
            "rejected": len(result.rejected),
            "duplicates": result.duplicates,
            "messages": result.messages,
            "sqs_calls": result.sqs_calls,
        },
    )
