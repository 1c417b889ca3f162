"""The ingest function's resolver and Edge (POST /v1/events only).

Kept apart from ``tollgate.api.apps`` so the hot path does not import the admin API's routes
and schemas. Differences from the API's Edge: it takes the CloudEvents media types, and it does
not parse the body (the route parses it once, per event; malformed JSON is still a 400 after
the 401/413/415 checks, in the documented order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .cloudevents import JSON, MEDIA_TYPES, is_binary_mode
from .http import Edge, create_app
from .routes import ingest

if TYPE_CHECKING:
    from tollgate.wiring import Root

metrics = Metrics()


def prepare(event: dict[str, Any]) -> None:
    """Before the Edge's checks: one metric per request, so a request refused at the edge
    (401/413/415) is counted too; and CloudEvents binary mode from an SDK, which sends no
    Content-Type when the event has no ``datacontenttype``: its data is JSON, so it is treated
    as application/json."""
    metrics.add_metric(name="IngestRequests", unit=MetricUnit.Count, value=1)
    headers = event.get("headers") or {}
    if is_binary_mode(headers) and not any(k.lower() == "content-type" for k in headers):
        event["headers"] = {**headers, "content-type": JSON}


def build_ingest_edge(root: Root) -> Edge:
    """The ingest function's resolver and Edge, once per execution environment."""
    return Edge(
        create_app(ingest.build_router(root.ingest), title="Tollgate ingest"),
        key_is_active=root.keys.key_is_active,
        rate_limit=root.rate_limits.check,
        media_types=MEDIA_TYPES,
        check_json=False,
        prepare=prepare,
    )
