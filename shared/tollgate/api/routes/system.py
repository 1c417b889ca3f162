"""Health, the OpenAPI document and Swagger UI - no key needed."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from tollgate.api.schemas import Health


def build_router() -> Router:
    router = Router()

    @router.get("/health", tags=["System"], summary="Liveness; no key needed", security=[])
    def health() -> Health:
        return Health(status="ok")

    return router
