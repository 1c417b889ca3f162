"""What a route reads of its request: the caller (put there by the ``Edge``) and the raw body.

Routes import this module, not ``http``: the Edge calls the routes (through the resolver), and
the routes call only these helpers, so no two modules of a request's path call each other.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler.request import Request

from tollgate.domain.errors import FieldError, Forbidden, NotFound, Unauthenticated, ValidationFailed
from tollgate.domain.keys import Principal, Scope


def caller(request: Request) -> Principal:
    """The authenticated caller of this request. The ``Edge`` puts it in the request's context
    (its own resolver's: one per execution environment), and each route takes the request as a
    parameter (Powertools injects a ``Request``-typed one) and reads its principal from there,
    before any I/O."""
    p = request.context.get("principal")
    if p is None:  # a route that forgot it is public: fail closed
        raise Unauthenticated("no API key")
    return p


def require(p: Principal, *scopes: Scope) -> Principal:
    if p.scope not in scopes:
        allowed = ", ".join(s.value for s in scopes)
        raise Forbidden(f"this route needs a key with scope {allowed}; this key has scope {p.scope.value}")
    return p


def tenant_for(p: Principal, tenant_id: str | None, field: str = "tenant") -> str:
    """The tenant a request acts on. A tenant key may omit it (it is implied) and may not name
    another tenant: that is a 404, so nothing leaks about whether the other tenant exists."""
    if p.scope is Scope.TENANT:
        if tenant_id is not None and tenant_id != p.tenant_id:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return p.tenant_id or ""
    if not tenant_id:
        raise ValidationFailed("a tenant is required", [FieldError(field, "is required for this key's scope")])
    return tenant_id


def tenant_or_all(p: Principal, tenant_id: str | None) -> str | None:
    """The tenant a read spans: a tenant key's own (naming another is a 404, as in
    ``tenant_for``); for an admin, the one named, or None for every tenant."""
    if p.scope is Scope.TENANT:
        return tenant_for(p, tenant_id)
    return tenant_id or None


def media_type(headers: dict[str, str]) -> str:
    raw = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return raw.split(";", 1)[0].strip().lower()


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8")
