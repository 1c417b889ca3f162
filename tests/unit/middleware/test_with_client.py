"""The middlewares on the real SDK client, whose transport is an httpx.MockTransport playing
the API: the events the flusher sends after close, and a 429 from /v1/consume turned into the
middleware's own 429 with the API's headers."""

from __future__ import annotations

import json
import threading

import httpx

from tests.unit.middleware.apps import TestClient, asgi_tenant, fastapi_app, flask_app, wsgi_tenant
from tollgate.client import AsyncTollgate, Tollgate
from tollgate.middleware import TollgateASGIMiddleware, TollgateWSGIMiddleware

POLICY = '"quota";q=3;w=2592000'


class Api:
    """Answers /v1/events with 202 and /v1/consume with the scripted status; records bodies."""

    def __init__(self, consume_status: int = 200) -> None:
        self.consume_status = consume_status
        self.events: list[dict] = []
        self.consumes: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        with self.lock:
            if request.url.path == "/v1/events":
                self.events.extend(body)
                return httpx.Response(202, json={"accepted": len(body), "duplicates": 0, "rejected": []})
            self.consumes.append(body)
        allowed = self.consume_status == 200
        headers = {"RateLimit-Policy": POLICY, "RateLimit": '"quota";r=0;t=600'}
        if not allowed:
            headers["Retry-After"] = "600"
        decision = {"allowed": allowed, "reason": None if allowed else "quota_exceeded", "limits": []}
        return httpx.Response(self.consume_status, json=decision, headers=headers)


def test_flask_requests_reach_the_api_as_events_after_close():
    api = Api()
    client = Tollgate("http://tollgate.test", "tg_key", transport=httpx.MockTransport(api), flush_interval=60)
    app = flask_app()
    middleware = TollgateWSGIMiddleware(app.wsgi_app, client=client, tenant=wsgi_tenant)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    http = app.test_client()
    for path in ("/items/1", "/items/2", "/stream"):
        assert http.get(path, headers={"X-Tenant": "acme"}, buffered=True).status_code == 200
    assert api.events == []  # buffered: nothing sent on the request path
    middleware.close()
    client.close()
    assert [(e["type"], e["subject"], e["data"]["route"]) for e in api.events] == [
        ("api_calls", "acme", "/items/{item_id}"),
        ("api_calls", "acme", "/items/{item_id}"),
        ("api_calls", "acme", "/stream"),
    ]
    assert len({e["id"] for e in api.events}) == 3


def test_fastapi_requests_reach_the_api_as_events_at_lifespan_shutdown():
    api = Api()
    client = AsyncTollgate("http://tollgate.test", "tg_key", transport=httpx.MockTransport(api), flush_interval=60)
    app = fastapi_app()
    app.add_middleware(TollgateASGIMiddleware, client=client, tenant=asgi_tenant, meter="calls")
    with TestClient(app) as http:
        for n in range(5):
            assert http.get(f"/items/{n}", headers={"X-Tenant": "acme"}).status_code == 200
    assert [(e["type"], e["data"]["route"], e["data"]["status"]) for e in api.events] == [
        ("calls", "/items/{item_id}", 200)
    ] * 5


def test_a_429_from_consume_is_answered_by_the_middleware_with_the_apis_headers():
    api = Api(consume_status=429)
    client = Tollgate("http://tollgate.test", "tg_key", transport=httpx.MockTransport(api))
    app = flask_app()
    calls = []
    app.before_request(lambda: calls.append(1))
    app.wsgi_app = TollgateWSGIMiddleware(app.wsgi_app, client=client, tenant=wsgi_tenant, enforce=True)  # type: ignore[method-assign]
    r = app.test_client().get("/items/1", headers={"X-Tenant": "acme"}, buffered=True)
    client.close()
    assert r.status_code == 429
    assert (r.headers["Retry-After"], r.headers["RateLimit-Policy"]) == ("600", POLICY)
    assert r.get_json()["type"] == "/problems/quota-exceeded"
    assert calls == []
    assert [c["meter"] for c in api.consumes] == ["api_calls"] and api.consumes[0]["tenant"] == "acme"
    assert api.events == []
