"""The resolvers of the HTTP functions, and the ``Edge`` that guards each."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types

from tollgate.usecases.keys import key_is_active

from .http import Edge, create_app
from .routes import keys, meters, system, tenants

DESCRIPTION = (
    "Usage metering, quotas and rate limits. Authenticate with `Authorization: Bearer <key>` "
    "or `X-Api-Key: <key>`. Every error is RFC 9457 `application/problem+json`."
)


def build_api_app():
    """The admin and read API; its /openapi.json documents every route of every function."""
    app = create_app(system.router, keys.router, tenants.router, meters.router, description=DESCRIPTION)
    app.enable_swagger(path="/docs", title="Tollgate API")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():  # noqa: ANN202 - a raw Response, outside the schema
        return Response(200, content_types.APPLICATION_JSON, app.get_openapi_json_schema())

    return app


api_app = build_api_app()
api_edge = Edge(api_app, key_is_active=key_is_active)
