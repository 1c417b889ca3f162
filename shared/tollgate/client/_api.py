"""The API's routes as :class:`Call` values, with the model each answer parses to. The sync
and async clients send these; the method docstrings there say which calls retry."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from . import _ratelimit
from ._encode import dumps, rfc3339
from ._protocol import Call
from .errors import EventsRejected
from .models import (
    CreatedKey,
    Decision,
    IngestResult,
    Key,
    Notification,
    Page,
    Quotas,
    Tenant,
    TenantLimits,
    Usage,
)

M = TypeVar("M", bound=BaseModel)
Number = int | float | Decimal


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate_json(response.content)


def _params(**values: Any) -> dict[str, str]:
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, datetime):
            value = rfc3339(value)
        out[name.rstrip("_")] = str(value)
    return out


def _segment(value: str) -> str:
    return quote(value, safe="")


def _decision(response: httpx.Response) -> Decision:
    body = response.json()
    retry = response.headers.get("retry-after")
    return Decision.model_validate(
        {
            **body,
            "retry_after": int(retry) if retry and retry.strip().isdigit() else None,
            "headers": _ratelimit.passed_on(response.headers),
            "ratelimit": _ratelimit.parse(response.headers),
        }
    )


# ------------------------------------------------------------------ events and consume
def events(
    body: bytes, content_type: str, max_retries: int | None = None, *, raise_on_rejected: bool = False
) -> Call[IngestResult]:
    def parse(response: httpx.Response) -> IngestResult:
        return EventsRejected.check(IngestResult.model_validate_json(response.content), raise_on_rejected)

    return Call("POST", "/v1/events", parse, body=body, content_type=content_type, max_retries=max_retries)


def consume(meter: str, amount: Number, event_id: str, tenant: str | None, max_retries: int | None) -> Call[Decision]:
    doc: dict[str, Any] = {"id": event_id, "meter": meter, "amount": amount}
    if tenant is not None:
        doc["tenant"] = tenant
    body = dumps(doc, decimals_as_numbers=True)
    return Call("POST", "/v1/consume", _decision, body=body, answers=frozenset({429}), max_retries=max_retries)


# ------------------------------------------------------------------ reads
def quotas(tenant: str | None, meter: str | None) -> Call[Quotas]:
    return Call("GET", "/v1/quotas", _model(Quotas), params=_params(tenant=tenant, meter=meter))


def usage(
    meter: str,
    tenant: str | None,
    from_: datetime | None,
    to: datetime | None,
    window: str | None,
    group_by: str | None,
) -> Call[Usage]:
    params = _params(meter=meter, tenant=tenant, from_=from_, to=to, window=window, group_by=group_by)
    return Call("GET", "/v1/usage", _model(Usage), params=params)


def notifications(
    tenant: str | None, unread: bool | None, type_: str | None, limit: int | None, cursor: str | None
) -> Call[Page[Notification]]:
    params = _params(tenant=tenant, unread=unread, type_=type_, limit=limit, cursor=cursor)
    return Call("GET", "/v1/notifications", _model(Page[Notification]), params=params)


# ------------------------------------------------------------------ tenants, keys, limits
def create_tenant(tenant_id: str, name: str, fields: Mapping[str, Any]) -> Call[Tenant]:
    body = dumps({"id": tenant_id, "name": name, **fields}, decimals_as_numbers=True)
    return Call("POST", "/v1/tenants", _model(Tenant), body=body, idempotent=False)


def get_tenant(tenant_id: str) -> Call[Tenant]:
    return Call("GET", f"/v1/tenants/{_segment(tenant_id)}", _model(Tenant))


def list_tenants(limit: int | None, cursor: str | None, filters: Mapping[str, Any]) -> Call[Page[Tenant]]:
    params = _params(limit=limit, cursor=cursor, **filters)
    return Call("GET", "/v1/tenants", _model(Page[Tenant]), params=params)


def create_key(scope: str, tenant_id: str | None, name: str | None) -> Call[CreatedKey]:
    doc = {k: v for k, v in {"scope": scope, "tenant_id": tenant_id, "name": name}.items() if v is not None}
    return Call("POST", "/v1/keys", _model(CreatedKey), body=dumps(doc), idempotent=False)


def list_keys(limit: int | None, cursor: str | None) -> Call[Page[Key]]:
    return Call("GET", "/v1/keys", _model(Page[Key]), params=_params(limit=limit, cursor=cursor))


def revoke_key(key_id: str) -> Call[Key]:
    # Idempotent on the server: revoking a revoked key keeps its first revoked_at.
    return Call("DELETE", f"/v1/keys/{_segment(key_id)}", _model(Key))


def get_limits(tenant_id: str) -> Call[TenantLimits]:
    return Call("GET", f"/v1/tenants/{_segment(tenant_id)}/limits", _model(TenantLimits))


def set_limits(tenant_id: str, limits: Sequence[Mapping[str, Any]], reason: str | None) -> Call[TenantLimits]:
    doc: dict[str, Any] = {"limits": [dict(lim) for lim in limits]}
    if reason is not None:
        doc["reason"] = reason
    body = dumps(doc, decimals_as_numbers=True)
    return Call("PUT", f"/v1/tenants/{_segment(tenant_id)}/limits", _model(TenantLimits), body=body)
