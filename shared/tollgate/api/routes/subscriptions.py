"""/v1/tenants/{id}/subscriptions - where a tenant's alerts go (e-mail, webhook, SQS).

Admin keys, and the tenant's own key; a tenant key naming another tenant gets 404."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_for
from tollgate.api.subscription_schemas import SubscriptionCreate, SubscriptionList, SubscriptionOut
from tollgate.domain.ids import ID_MAX_LENGTH, NEW_ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.domain.subscriptions import SUBSCRIPTION_ID_PATTERN
from tollgate.services.subscriptions import SubscriptionService

TenantPath = Annotated[str, Path(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]
SubscriptionId = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]
TAGS = ["Subscriptions"]


def build_router(subscriptions: SubscriptionService) -> Router:
    router = Router()

    @router.post(
        "/v1/tenants/<tenant_id>/subscriptions",
        status_code=201,
        tags=TAGS,
        summary="Subscribe an e-mail address, a webhook or an SQS queue to the tenant's alerts",
        description="At most 10 subscriptions per tenant. An e-mail or HTTP(S) subscription is "
        "`pending_confirmation` until its endpoint confirms it (SNS sends a confirmation first).",
        responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
    )
    def create_subscription(request: Request, tenant_id: TenantPath, body: SubscriptionCreate) -> SubscriptionOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        made = subscriptions.create(tenant_for(p, tenant_id), body.protocol, body.endpoint, body.types)
        return SubscriptionOut.of(made)

    @router.get(
        "/v1/tenants/<tenant_id>/subscriptions",
        tags=TAGS,
        summary="List the tenant's alert subscriptions",
        responses=error_responses(401, 403, 404, 422),
    )
    def list_subscriptions(request: Request, tenant_id: TenantPath) -> SubscriptionList:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        return SubscriptionList(items=[SubscriptionOut.of(s) for s in subscriptions.list(tenant_for(p, tenant_id))])

    @router.delete(
        "/v1/tenants/<tenant_id>/subscriptions/<subscription_id>",
        status_code=204,
        tags=TAGS,
        summary="Delete an alert subscription (unsubscribes it in SNS)",
        responses={
            204: {"description": "Deleted"},
            **error_responses(401, 403, 404, 422),
        },
    )
    def delete_subscription(
        request: Request, tenant_id: TenantPath, subscription_id: SubscriptionId
    ):  # a 204 Response: no schema to annotate
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        subscriptions.delete(tenant_for(p, tenant_id), subscription_id)
        return Response(204)

    return router
