"""/v1/notifications - the in-app notifications: every alert, with its unread state.

A tenant key sees and marks only its own tenant's (naming another tenant, or another tenant's
notification, is a 404); an admin key sees one tenant's with ``tenant=``, or every tenant's
without it. Ingest keys are refused (403)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.request import Request
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_or_all
from tollgate.domain.alerts import AlertType, Severity
from tollgate.domain.ids import ID_MAX_LENGTH, ID_PATTERN
from tollgate.domain.keys import Principal, Scope
from tollgate.services.notifications import NotificationService
from tollgate.services.tenants import TenantService

from .common import Cursor, Flag, Limit, TenantQ, flag, paged

DocNumber = int | float | str
"""A quantity of an alert document, as stored (``domain.numbers.json_number``): a JSON number,
or its decimal text when no double holds it exactly."""

NotificationPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]


class NotificationOut(BaseModel):
    """The alert document (the same JSON as published to SNS) plus ``read_at``. A field a type
    does not carry is absent, not null: ``overage`` is on ``billing.over_limit`` only."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="The alert's id: the same crossing always has the same id.")
    type: AlertType
    severity: Severity = Field(description="`warning` for thresholds below 1; `critical` from 1, and over_limit.")
    tenant_id: str | None = Field(description="Null on `report.ready`, which names no tenant.")
    meter: str | None = None
    window: str | None = Field(default=None, description="minute, hour, day, month or lifetime.")
    window_start: str | None = Field(default=None, description="RFC 3339 with the tenant's offset; null for lifetime.")
    window_end: str | None = Field(default=None, description="RFC 3339 with the tenant's offset; null for lifetime.")
    limit: DocNumber | None = None
    used: DocNumber | None = Field(default=None, description="The window's usage when the alert fired.")
    percent: DocNumber | None = Field(default=None, description="used / limit x 100, two decimals.")
    thresholds: list[DocNumber] | None = Field(default=None, description="The crossed fractions, ascending.")
    enforcement: str | None = None
    overage: DocNumber | None = Field(default=None, description="used - limit; `billing.over_limit` only.")
    occurred_at: str = Field(description="When the alert fired, RFC 3339 in the tenant's zone.")
    read_at: str | None = Field(description="When it was marked read (UTC); null while unread.")

    @model_serializer(mode="wrap")
    def _as_stored(self, handler: SerializerFunctionWrapHandler):  # no return type: the schema stays the fields'
        """Drop the declared fields this alert's document does not carry (absent, not null)."""
        data = handler(self)
        declared = type(self).model_fields
        return {k: v for k, v in data.items() if k not in declared or k in self.model_fields_set or k == "read_at"}


class NotificationsPage(BaseModel):
    items: list[NotificationOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class UnreadCountOut(BaseModel):
    unread: int = Field(description="Notifications not yet marked read.")


def build_router(notifications: NotificationService, tenants: TenantService) -> Router:
    router = Router()

    def scope(p: Principal, tenant: str | None) -> str | None:
        """The tenant the request spans (None: every tenant, an admin's feed). An admin naming
        a tenant that does not exist gets a 404, as on the other routes."""
        tenant_id = tenant_or_all(p, tenant)
        if tenant_id is not None and p.scope is Scope.ADMIN:
            tenants.get_tenant(tenant_id)
        return tenant_id

    @router.get(
        "/v1/notifications",
        tags=["Notifications"],
        summary="Alerts as in-app notifications, newest first",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def list_notifications(
        request: Request,
        tenant: TenantQ = None,
        unread: Annotated[Flag | None, Query(description="`true`: only unread; `false`: only read.")] = None,
        type: Annotated[AlertType | None, Query(description="Only this alert type.")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> NotificationsPage:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        tenant_id = scope(p, tenant)

        def fetch(n: int, c: str | None) -> tuple[list[dict[str, Any]], str | None]:
            page = notifications.list(
                tenant_id, unread=flag(unread), type_=type.value if type else None, limit=n, cursor=c
            )
            return page.items, page.next_cursor

        items, nxt = paged(fetch, limit, cursor)
        return NotificationsPage(items=[NotificationOut(**doc) for doc in items], next_cursor=nxt)

    @router.get(
        "/v1/notifications/unread-count",
        tags=["Notifications"],
        summary="How many notifications are unread",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def unread_count(request: Request, tenant: TenantQ = None) -> UnreadCountOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        return UnreadCountOut(unread=notifications.unread_count(scope(p, tenant)))

    @router.post(
        "/v1/notifications/<notification_id>/read",
        tags=["Notifications"],
        summary="Mark a notification read (idempotent: a second call keeps the first read_at)",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def mark_read(request: Request, notification_id: NotificationPath) -> NotificationOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        tenant_id = tenant_or_all(p, None)
        return NotificationOut(**notifications.mark_read(notification_id, tenant_id))

    return router
