"""TollgateASGIMiddleware on a real FastAPI application with a fake client: what each request
tracks (route template, method, status, bytes, duration), and what it never does (break the
app, track a request without a tenant, use the raw path)."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.fakes.tollgate_client import FakeAsyncClient
from tests.unit.middleware.apps import Boom, TestClient, asgi_tenant, fastapi_app
from tollgate.middleware import UNMATCHED, TollgateASGIMiddleware

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def wrapped(client: FakeAsyncClient | None = None, **options):
    client = client or FakeAsyncClient()
    app = fastapi_app()
    options.setdefault("tenant", asgi_tenant)
    app.add_middleware(TollgateASGIMiddleware, client=client, **options)
    return TestClient(app, raise_server_exceptions=True), client


@pytest.mark.parametrize(
    ("path", "template", "status"),
    [
        ("/items/42", "/items/{item_id}", 200),
        ("/items/not-a-number", "/items/{item_id}", 422),
        ("/v2/users/u-7", "/v2/users/{user_id}", 200),
        ("/orgs/acme/things/9", "/orgs/{org}/things/{thing_id}", 200),
        ("/raw/deep/a/5", "/raw/deep/a/{x}", 200),
        ("/nowhere/at/all", UNMATCHED, 404),
        ("/orgs/acme/nothing", UNMATCHED, 404),
    ],
)
def test_the_route_is_the_template_never_the_raw_path(path, template, status):
    http, client = wrapped()
    assert http.get(path, headers={"X-Tenant": "acme"}).status_code == status
    [event] = client.tracked
    assert event.data["route"] == template
    assert event.data["status"] == status


def test_one_event_per_request_with_the_request_facts():
    http, client = wrapped(meter="calls")
    response = http.post("/echo", content=b"0123456789", headers={"X-Tenant": "acme"})
    assert response.status_code == 201
    [event] = client.tracked
    assert event.type == "calls"
    assert event.subject == "acme"
    assert UUID7.match(event.id)
    data = event.data
    assert {k: data[k] for k in ("value", "route", "method", "status", "request_bytes", "response_bytes")} == {
        "value": 1,
        "route": "/echo",
        "method": "POST",
        "status": 201,
        "request_bytes": 10,
        "response_bytes": 10,
    }
    assert isinstance(data["duration_ms"], float) and data["duration_ms"] >= 0
    assert data["duration_ms"] == round(data["duration_ms"], 1)


def test_each_request_gets_its_own_id():
    http, client = wrapped()
    for _ in range(3):
        http.get("/items/1", headers={"X-Tenant": "acme"})
    assert len({e.id for e in client.tracked}) == 3


def test_a_streamed_response_counts_every_chunk():
    http, client = wrapped()
    assert http.get("/stream", headers={"X-Tenant": "acme"}).content == b"abcdef"
    assert client.tracked[0].data["response_bytes"] == 6


def test_a_chunked_request_without_content_length_counts_what_the_app_read():
    http, client = wrapped()
    body = iter([b"abc", b"defg"])  # a generator: httpx sends it chunked, without Content-Length
    assert http.post("/echo", content=body, headers={"X-Tenant": "acme"}).content == b"abcdefg"
    assert client.tracked[0].data["request_bytes"] == 7


def test_no_tenant_means_not_tracked():
    http, client = wrapped()
    assert http.get("/items/1").status_code == 200
    assert client.tracked == []


def test_a_tenant_callable_that_raises_serves_the_request_untracked(caplog):
    http, client = wrapped(tenant=lambda scope: 1 / 0)
    with caplog.at_level("ERROR", logger="tollgate.middleware"):
        assert http.get("/items/1", headers={"X-Tenant": "acme"}).status_code == 200
    assert client.tracked == []
    assert "tenant callable raised" in caplog.text


def test_the_apps_exception_propagates_unchanged_and_the_request_is_tracked_as_500():
    http, client = wrapped()
    with pytest.raises(Boom, match="the handler failed"):
        http.get("/boom", headers={"X-Tenant": "acme"})
    [event] = client.tracked
    assert event.data["status"] == 500
    assert event.data["route"] == "/boom"


def test_a_failing_track_never_breaks_the_request(caplog):
    http, client = wrapped(FakeAsyncClient(track_error=RuntimeError("buffer exploded")))
    with caplog.at_level("ERROR", logger="tollgate.middleware"):
        assert http.get("/items/1", headers={"X-Tenant": "acme"}).json() == {"id": 1}
    assert "buffer exploded" in caplog.text


def test_the_route_callable_names_routes_the_framework_does_not():
    async def raw(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = FakeAsyncClient()
    app = TollgateASGIMiddleware(raw, client=client, tenant=lambda s: "acme", route=lambda s: s["path"].split("/")[1])
    TestClient(app).get("/reports/2026")
    assert client.tracked[0].data["route"] == "reports"
    plain = TollgateASGIMiddleware(raw, client=client, tenant=lambda s: "acme")
    TestClient(plain).get("/reports/2026")
    assert client.tracked[1].data["route"] == UNMATCHED


def test_websockets_pass_through_untracked():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    client = FakeAsyncClient()
    asyncio.run(TollgateASGIMiddleware(app, client=client, tenant=lambda s: "acme")({"type": "websocket"}, None, None))
    assert seen == ["websocket"]
    assert client.tracked == []


def test_lifespan_shutdown_closes_the_client_the_middleware_built(monkeypatch):
    import tollgate.middleware.asgi

    built = []

    class Built(FakeAsyncClient):
        def __init__(self, base_url, key):
            super().__init__()
            built.append(self)

    monkeypatch.setattr(tollgate.middleware.asgi, "AsyncTollgate", Built)
    app = fastapi_app()
    app.add_middleware(TollgateASGIMiddleware, base_url="http://tollgate", key="tg_x", tenant=asgi_tenant)
    with TestClient(app) as http:
        http.get("/items/1", headers={"X-Tenant": "acme"})
        assert not built[0].closed
    assert built[0].closed
    assert len(built[0].tracked) == 1


def test_lifespan_shutdown_flushes_but_does_not_close_a_client_it_was_given():
    client = FakeAsyncClient()
    app = fastapi_app()
    app.add_middleware(TollgateASGIMiddleware, client=client, tenant=asgi_tenant)
    with TestClient(app):
        pass
    assert client.flushes == 1
    assert not client.closed


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"tenant": asgi_tenant}, TypeError),  # neither client nor base_url + key
        ({"client": FakeAsyncClient(), "tenant": "acme"}, TypeError),
        ({"client": FakeAsyncClient(), "tenant": asgi_tenant, "failure": "ajar"}, ValueError),
        ({"client": FakeAsyncClient(), "tenant": asgi_tenant, "enforce": 3}, TypeError),
    ],
)
def test_misconfiguration_fails_at_construction(options, error):
    with pytest.raises(error):
        TollgateASGIMiddleware(fastapi_app(), **options)


def _drive(app, scope_extra=None):
    """Call an ASGI app once with a GET scope; returns the messages it sent."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/slow", "headers": [], "root_path": "", **(scope_extra or {})}
    asyncio.run(app(scope, receive, send))
    return sent


def test_the_duration_runs_until_the_last_body_chunk_is_sent():
    async def slow(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"bc", "more_body": False})
        await asyncio.sleep(0.2)  # after the response: not the client's wait

    client = FakeAsyncClient()
    _drive(TollgateASGIMiddleware(slow, client=client, tenant=lambda s: "acme"))
    data = client.tracked[0].data
    assert data["response_bytes"] == 3
    assert 50 <= data["duration_ms"] < 200


def test_an_exception_after_the_response_started_keeps_the_status_sent():
    async def breaks(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise Boom("mid-stream")

    client = FakeAsyncClient()
    with pytest.raises(Boom):
        _drive(TollgateASGIMiddleware(breaks, client=client, tenant=lambda s: "acme"))
    assert (client.tracked[0].data["status"], client.tracked[0].data["response_bytes"]) == (200, 7)


def test_a_mounted_route_is_found_through_middleware_wrapping_the_app():
    from starlette.middleware.gzip import GZipMiddleware

    client = FakeAsyncClient()
    outer = TollgateASGIMiddleware(GZipMiddleware(fastapi_app()), client=client, tenant=asgi_tenant)
    TestClient(outer).get("/orgs/acme/things/9", headers={"X-Tenant": "acme"})
    assert client.tracked[0].data["route"] == "/orgs/{org}/things/{thing_id}"
