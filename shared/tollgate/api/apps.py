"""The resolvers of the HTTP functions, and the ``Edge`` that guards each."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from . import console, docs
from .http import Edge, create_app
from .ingest_app import build_ingest_edge
from .ratelimit_headers import rate_limit_headers

if TYPE_CHECKING:
    from tollgate.wiring import Root

from .routes import (
    analytics,
    audit,
    billing_catalog,
    consume,
    invoices,
    keys,
    me,
    meters,
    notifications,
    plans,
    quarantine,
    quotas,
    reports,
    subscriptions,
    system,
    tenants,
    usage,
)

DESCRIPTION = (
    "Usage metering, quotas and rate limits. Authenticate with `Authorization: Bearer <key>` "
    "or `X-Api-Key: <key>`. Every error is RFC 9457 `application/problem+json` - except the "
    "decision `POST /v1/consume` answers, 429 included. Every authenticated route is rate limited "
    "per tenant (tenant keys) or per key (admin and ingest keys)."
)


def build_api_app(root: Root) -> APIGatewayHttpResolver:
    """The admin and read API. Its /openapi.json and /docs document the routes of every HTTP
    function: the merged documents of this resolver, the limits function's and the ingest
    function's (``docs.merge_documents``), built on the first request and kept for this
    execution environment."""
    app = create_app(
        system.build_router(),
        keys.build_router(root.keys),
        tenants.build_router(root.tenants, root.rate_limits, root.health, root.tenant_ranking, root.quotas),
        meters.build_router(root.meters),
        usage.build_router(root.usage, root.events_log, root.clock),
        plans.build_router(root.plans),
        quotas.build_router(root.quotas, root.meters),
        audit.build_router(root.audit, root.tenants),
        quarantine.build_router(root.quarantine),
        subscriptions.build_router(root.subscriptions),
        notifications.build_router(root.notifications, root.tenants),
        billing_catalog.build_router(root.billing_catalog),
        invoices.build_router(root.invoices, root.invoice_runs, root.invoice_lifecycle, root.invoice_exporter),
        analytics.build_router(root.analytics),
        reports.build_router(root.reports),
        me.build_router(),
        console.build_router(),
        description=DESCRIPTION,
    )

    @functools.cache
    def document() -> str:
        return docs.document_json(app, build_limits_edge(root).app, build_ingest_edge(root).app)

    @functools.cache
    def swagger_page() -> str:
        return docs.swagger_html(document())

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():
        return Response(200, content_types.APPLICATION_JSON, document())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui():
        return Response(200, "text/html", swagger_page())

    return app


def build_api_edge(root: Root) -> Edge:
    """The API function's resolver and Edge; ``functions/api/app.py`` builds one per
    execution environment, so concurrent requests never share request state."""
    return Edge(build_api_app(root), key_is_active=root.keys.key_is_active, rate_limit=root.rate_limits.check)


# ------------------------------------------------------------------ the limits function
def consume_rate_limited(decision) -> Response:
    """/v1/consume answers a rate limit with a decision, like a quota denial."""
    body = {"allowed": False, "reason": "rate_limited", "replayed": False, "limits": []}
    return Response(429, content_types.APPLICATION_JSON, json.dumps(body), headers=rate_limit_headers(decision))


def build_limits_edge(root: Root) -> Edge:
    """POST /v1/consume, once per execution environment. ``NaN`` in the body reaches
    validation, which names the field (422)."""
    app = create_app(consume.build_router(root.consume), title="Tollgate limits")
    return Edge(
        app,
        key_is_active=root.keys.key_is_active,
        rate_limit=root.rate_limits.check,
        json_constants=True,
        on_rate_limited=consume_rate_limited,
    )
