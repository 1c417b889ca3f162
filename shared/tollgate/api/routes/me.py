"""GET /v1/me - who the calling key is: its scope, its tenant (tenant keys) and its id, never
the key itself. The console reads it after sign-in to show an operator's pages or a tenant's
portal."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.request import Request
from pydantic import BaseModel, Field

from tollgate.api.problems import error_responses
from tollgate.api.request import caller
from tollgate.domain.keys import Scope


class MeOut(BaseModel):
    scope: Scope
    tenant: str | None = Field(description="The key's tenant; null for admin and ingest keys.")
    key_id: str = Field(description="The key's id (`key_...`), as in /v1/keys and the audit trail.")


def build_router() -> Router:
    router = Router()

    @router.get(
        "/v1/me",
        tags=["Keys"],
        summary="The calling key's scope, tenant and id (any scope)",
        responses=error_responses(401, 429),
    )
    def get_me(request: Request) -> MeOut:
        p = caller(request)
        return MeOut(scope=p.scope, tenant=p.tenant_id, key_id=p.key_id)

    return router
