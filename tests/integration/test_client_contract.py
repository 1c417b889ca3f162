"""The client SDK against the server: its models' fields are the OpenAPI document's, and the
real ``Tollgate`` drives the real handlers (in process, through an httpx transport that does
what API Gateway does), so a drift between client and server fails here."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.conftest import FakeContext, http_event
from tollgate.client import ProblemError, Tollgate
from tollgate.client import models as m

# client model -> the server's schema name in /openapi.json
SCHEMAS: dict[type[BaseModel], str] = {
    m.FieldError: "FieldErrorOut",
    m.Rejected: "RejectedOut",
    m.IngestResult: "IngestOut",
    m.ConsumeLimit: "ConsumeLimitOut",
    m.Quota: "QuotaOut",
    m.Quotas: "QuotasOut",
    m.SeriesPoint: "SeriesPointOut",
    m.Usage: "UsageOut",
    m.Notification: "NotificationOut",
    m.Address: "AddressOut",
    m.TenantHealth: "HealthOut",
    m.Tenant: "TenantRowOut",
    m.Key: "KeyOut",
    m.CreatedKey: "KeyCreated",
    m.Limit: "LimitOut",
    m.EffectiveLimit: "EffectiveLimitOut",
    m.ApiRateLimit: "ApiRateLimitOut",
    m.TenantLimits: "TenantLimitsOut",
}
# Fields the client knows ahead of the server: the ``retryable`` marker (issue 14, part C).
AHEAD = {("RejectedOut", "retryable")}
DECISION_ONLY = {"retry_after", "headers", "ratelimit"}  # read from the headers, not the body


def _fields(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def _served_document(api) -> dict[str, Any]:
    raw = api.handler_for("ApiFunction")(http_event("GET", "/openapi.json"), FakeContext())
    assert raw["statusCode"] == 200
    return json.loads(raw["body"])


def test_the_client_models_have_the_server_s_fields(api):
    schemas = _served_document(api)["components"]["schemas"]
    drift = []
    for model, name in SCHEMAS.items():
        server = set(schemas[name]["properties"])
        client = _fields(model)
        drift += [f"{model.__name__} lacks {name}.{f}" for f in sorted(server - client)]
        drift += [f"{model.__name__}.{f} is not in {name}" for f in sorted(client - server) if (name, f) not in AHEAD]
    decision = _fields(m.Decision) - DECISION_ONLY
    if decision != set(schemas["ConsumeOut"]["properties"]):
        drift.append(f"Decision {sorted(decision)} != ConsumeOut {sorted(schemas['ConsumeOut']['properties'])}")
    assert not drift, "\n".join(drift)


class InProcessTransport(httpx.BaseTransport):
    """An httpx transport onto ``InProcessApi``: the authorizer, then the route's function."""

    def __init__(self, api) -> None:
        self.api = api

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        headers = {k: v for k, v in request.headers.items() if k not in ("content-length", "accept-encoding")}
        query = dict(request.url.params) or None
        function_id, event = self.api.request(
            request.method, request.url.path, body=body.decode() if body else None, query=query, headers=headers
        )
        raw = self.api.handler_for(function_id)(event, FakeContext())
        return httpx.Response(raw["statusCode"], headers=raw.get("headers") or {}, content=(raw.get("body") or ""))


@pytest.fixture
def client(api, admin_key):
    meter = {"key": "api_calls", "name": "API calls", "aggregation": "count"}
    assert api.call("POST", "/v1/meters", key=admin_key, body=meter).status == 201  # the SDK has no meter calls
    tg = Tollgate("https://api.tollgate.test", admin_key, transport=InProcessTransport(api), flush_interval=0.05)
    yield tg
    tg.close()


def test_the_client_drives_the_real_api(client):
    tenant = client.create_tenant("acme", "Acme", timezone="Europe/Paris")
    assert tenant.id == "acme" and tenant.health.updated_at is None
    limits = client.set_limits("acme", [{"meter": "api_calls", "window": "day", "limit": 2}], reason="trial")
    assert [(e.meter, e.limit, e.source) for e in limits.effective] == [("api_calls", Decimal(2), "override")]
    assert client.get_limits("acme") == limits

    first = client.consume("api_calls", tenant="acme", id="req-1")
    second = client.consume("api_calls", tenant="acme")
    denied = client.consume("api_calls", tenant="acme")
    assert first.allowed and second.allowed and not denied.allowed and denied.reason == "quota_exceeded"
    assert denied.retry_after and denied.headers["Retry-After"] == str(denied.retry_after)
    assert [(r.name, r.limit, r.remaining) for r in denied.ratelimit] == [("api_calls.day", 2, 0)]
    replay = client.consume("api_calls", tenant="acme", id="req-1")
    assert replay.allowed and replay.replayed  # an id seen before: its original decision, not counted again

    quotas = client.quotas("acme")
    assert [(q.meter, q.used, q.remaining) for q in quotas.quotas] == [("api_calls", Decimal(2), Decimal(0))]

    result = client.send_events(
        [
            {"type": "api_calls", "subject": "acme"},
            {"type": "api_calls", "subject": "acme", "time": "1999-01-01T00:00:00Z"},
        ]
    )
    assert result.accepted == 1 and [r.index for r in result.rejected] == [1] and not result.rejected[0].retryable
    ids = [client.track("api_calls", subject="acme", data={"value": 1}) for _ in range(3)]
    assert client.flush(10) and client.stats.sent == 3 and len(set(ids)) == 3

    key = client.create_key("tenant", tenant_id="acme", name="backend")
    assert key.key.get_secret_value().startswith("tg_") and "tg_" not in repr(key)
    assert key.id in [k.id for k in client.list_keys(limit=100).items]
    assert client.revoke_key(key.id).revoked_at is not None
    assert client.get_tenant("acme").name == "Acme"
    assert "acme" in [t.id for t in client.list_tenants(limit=100).items]
    page = client.notifications("acme", unread=True, limit=10)  # the alert pipeline does not run in process
    assert page.items == [] and page.next_cursor is None

    with pytest.raises(ProblemError) as err:
        client.create_tenant("acme", "Acme again")
    assert err.value.status == 409 and err.value.type.startswith("/problems/")
