"""The resolvers of the HTTP functions, and the ``Edge`` that guards each."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response, content_types

from tollgate.services.keys import key_is_active

from .http import Edge, create_app
from .ratelimit_headers import rate_limit_headers
from .routes import audit, consume, ingest, keys, meters, plans, quarantine, quotas, system, tenants, usage

DESCRIPTION = (
    "Usage metering, quotas and rate limits. Authenticate with `Authorization: Bearer <key>` "
    "or `X-Api-Key: <key>`. Every error is RFC 9457 `application/problem+json` - except the "
    "decision `POST /v1/consume` answers, 429 included. Every authenticated route is rate limited "
    "per tenant (tenant keys) or per key (admin and ingest keys)."
)


def build_api_app():
    """The admin and read API; its /openapi.json documents every route of every function."""
    app = create_app(
        system.router,
        keys.router,
        tenants.router,
        meters.router,
        usage.router,
        plans.router,
        quotas.router,
        audit.router,
        quarantine.router,
        consume.build_router(),
        ingest.router,
        description=DESCRIPTION,
    )
    app.enable_swagger(path="/docs", title="Tollgate API")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():
        return Response(200, content_types.APPLICATION_JSON, app.get_openapi_json_schema())

    return app


api_app = build_api_app()
api_edge = Edge(api_app, key_is_active=key_is_active)


# ------------------------------------------------------------------ the limits function
def consume_rate_limited(decision) -> Response:
    """/v1/consume answers a rate limit with a decision, like a quota denial."""
    body = {"allowed": False, "reason": "rate_limited", "replayed": False, "limits": []}
    return Response(429, content_types.APPLICATION_JSON, json.dumps(body), headers=rate_limit_headers(decision))


def build_limits_edge() -> Edge:
    """POST /v1/consume. Each call builds its own resolver and router: the function module
    calls it once per execution environment (the local stack imports one per concurrent
    request). ``NaN`` in the body reaches validation, which names the field (422)."""
    app = create_app(consume.build_router(), title="Tollgate limits")
    return Edge(app, key_is_active=key_is_active, json_constants=True, on_rate_limited=consume_rate_limited)
