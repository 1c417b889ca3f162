"""/v1/keys - admin only."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require
from tollgate.api.schemas import KeyCreate, KeyCreated, KeyOut, Page
from tollgate.domain.keys import Scope
from tollgate.services.keys import KeyService

from .common import Cursor, Limit, paged

KeyId = Annotated[str, Path(pattern=r"^key_[0-9a-f]{16}$")]


def build_router(keys: KeyService) -> Router:
    router = Router()

    @router.post(
        "/v1/keys",
        status_code=201,
        tags=["Keys"],
        summary="Create an API key (the secret is shown once)",
        responses=error_responses(400, 401, 403, 413, 415, 422),
    )
    def create_key(request: Request, body: KeyCreate) -> KeyCreated:
        require(caller(request), Scope.ADMIN)
        record, secret = keys.create_key(body.scope, body.tenant_id, body.name)
        return KeyCreated(
            id=record.id,
            key=secret,
            scope=record.scope,
            tenant_id=record.tenant_id,
            name=record.name,
            created_at=record.created_at,
        )

    @router.get(
        "/v1/keys", tags=["Keys"], summary="List API keys (never the secret)", responses=error_responses(401, 403, 422)
    )
    def list_keys(request: Request, limit: Limit = 50, cursor: Cursor = None) -> Page[KeyOut]:
        require(caller(request), Scope.ADMIN)
        items, nxt = paged(keys.list_keys, limit, cursor)
        return Page[KeyOut](items=[KeyOut.of(r) for r in items], next_cursor=nxt)

    @router.delete(
        "/v1/keys/<key_id>",
        tags=["Keys"],
        summary="Revoke an API key; it stops working at once",
        responses=error_responses(401, 403, 404, 422),
    )
    def revoke_key(request: Request, key_id: KeyId) -> KeyOut:
        require(caller(request), Scope.ADMIN)
        return KeyOut.of(keys.revoke_key(key_id))

    return router
