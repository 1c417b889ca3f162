"""TollgateWSGIMiddleware on a real Flask application (and raw WSGI callables) with a fake
client: the event each request becomes, and when (the server closing the iterable)."""

from __future__ import annotations

import io

import pytest

from tests.fakes.tollgate_client import FakeClient
from tests.unit.middleware.apps import Boom, flask_app, wsgi_tenant
from tollgate.middleware import UNMATCHED, TollgateWSGIMiddleware
from tollgate.middleware.routes import flask_template


def wrapped(client: FakeClient | None = None, **options):
    client = client or FakeClient()
    app = flask_app()
    options.setdefault("tenant", wsgi_tenant)
    app.wsgi_app = TollgateWSGIMiddleware(app.wsgi_app, client=client, **options)  # type: ignore[method-assign]
    return app.test_client(), client


def get(http, path, **kwargs):
    return http.get(path, headers={"X-Tenant": "acme"}, buffered=True, **kwargs)


@pytest.mark.parametrize(
    ("path", "template", "status"),
    [
        ("/items/42", "/items/{item_id}", 200),
        ("/v2/files/a/b/c.txt", "/v2/files/{name}", 200),
        ("/items/not-a-number", UNMATCHED, 404),  # the int converter does not match: no rule
        ("/nowhere", UNMATCHED, 404),
    ],
)
def test_the_route_is_the_flask_rule_as_a_template(path, template, status):
    http, client = wrapped()
    assert get(http, path).status_code == status
    [event] = client.tracked
    assert (event.data["route"], event.data["status"]) == (template, status)


@pytest.mark.parametrize(
    ("rule", "template"),
    [("/a/<int:id>", "/a/{id}"), ("/a/<name>/<path:rest>", "/a/{name}/{rest}"), ("/plain", "/plain")],
)
def test_flask_converters_are_rewritten(rule, template):
    assert flask_template(rule) == template


def test_one_event_per_request_with_the_request_facts():
    http, client = wrapped(meter="calls")
    r = http.post("/echo", data=b"0123456789", headers={"X-Tenant": "acme"}, buffered=True)
    assert r.status_code == 201
    [event] = client.tracked
    assert (event.type, event.subject) == ("calls", "acme")
    data = event.data
    assert {k: data[k] for k in ("value", "route", "method", "status", "request_bytes", "response_bytes")} == {
        "value": 1,
        "route": "/echo",
        "method": "POST",
        "status": 201,
        "request_bytes": 10,
        "response_bytes": 10,
    }
    assert data["duration_ms"] >= 0


def test_a_streamed_response_counts_every_chunk():
    http, client = wrapped()
    assert get(http, "/stream").data == b"abcdef"
    assert client.tracked[0].data["response_bytes"] == 6


def test_no_tenant_means_not_tracked():
    http, client = wrapped()
    assert http.get("/items/1", buffered=True).status_code == 200
    assert client.tracked == []


def test_flasks_own_500_is_tracked_with_its_route():
    http, client = wrapped()
    assert get(http, "/boom").status_code == 500
    assert (client.tracked[0].data["status"], client.tracked[0].data["route"]) == (500, "/boom")


def test_a_propagated_exception_is_unchanged_and_tracked_as_500():
    app = flask_app()
    app.testing = True  # Flask re-raises the handler's exception
    client = FakeClient()
    app.wsgi_app = TollgateWSGIMiddleware(app.wsgi_app, client=client, tenant=wsgi_tenant)  # type: ignore[method-assign]
    with pytest.raises(Boom, match="the handler failed"):
        get(app.test_client(), "/boom")
    [event] = client.tracked
    assert event.data["status"] == 500
    assert event.data["route"] == UNMATCHED  # Flask dropped its request before re-raising


class Body:
    """A response iterable that records being closed."""

    def __init__(self, chunks):
        self.chunks, self.closed = chunks, False

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.closed = True


def environ(**extra):
    base = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/x", "wsgi.input": io.BytesIO(b""), "HTTP_X_TENANT": "acme"}
    return {**base, **extra}


def test_the_request_is_tracked_when_the_server_closes_the_iterable_and_the_apps_close_runs():
    body = Body([b"1234", b"56"])

    def app(env, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    client = FakeClient()
    result = TollgateWSGIMiddleware(app, client=client, tenant=wsgi_tenant)(environ(), lambda s, h, e=None: None)
    assert b"".join(result) == b"123456"
    assert client.tracked == []  # sent, not yet closed
    result.close()
    assert body.closed
    [event] = client.tracked
    assert event.data["response_bytes"] == 6
    result.close()
    assert len(client.tracked) == 1  # a second close tracks nothing more


def test_bytes_written_through_start_responses_write_count_and_unknown_length_input_is_counted_as_read():
    written = []

    def app(env, start_response):
        write = start_response("200 OK", [])
        env["wsgi.input"].read(3)
        env["wsgi.input"].readline()
        write(b"abc")
        return [b"de"]

    client = FakeClient()
    env = environ(**{"wsgi.input": io.BytesIO(b"xyz12\nrest")})
    start = lambda s, h, e=None: written.append  # noqa: E731
    result = TollgateWSGIMiddleware(app, client=client, tenant=wsgi_tenant)(env, start)
    list(result)
    result.close()
    assert written == [b"abc"]
    assert client.tracked[0].data["response_bytes"] == 5
    assert client.tracked[0].data["request_bytes"] == 6  # what the app read: "xyz" and "12\n"
    assert client.tracked[0].data["route"] == UNMATCHED


def test_a_failing_track_never_breaks_the_request(caplog):
    http, _ = wrapped(FakeClient(track_error=RuntimeError("buffer exploded")))
    with caplog.at_level("ERROR", logger="tollgate.middleware"):
        assert get(http, "/items/1").get_json() == {"id": 1}
    assert "buffer exploded" in caplog.text


def test_close_closes_a_built_client_and_flushes_a_given_one(monkeypatch):
    import tollgate.middleware.wsgi

    monkeypatch.setattr(tollgate.middleware.wsgi, "Tollgate", lambda base_url, key: FakeClient())
    built = TollgateWSGIMiddleware(flask_app().wsgi_app, base_url="http://tollgate", key="tg_x", tenant=wsgi_tenant)
    built.close()
    assert built.client.closed
    given = FakeClient()
    TollgateWSGIMiddleware(flask_app().wsgi_app, client=given, tenant=wsgi_tenant).close()
    assert (given.flushes, given.closed) == (1, False)


def test_the_duration_runs_until_the_iterable_is_closed():
    import time

    def slow(env, start_response):
        start_response("200 OK", [])
        yield b"a"
        time.sleep(0.05)
        yield b"bc"

    client = FakeClient()
    result = TollgateWSGIMiddleware(slow, client=client, tenant=wsgi_tenant)(environ(), lambda s, h, e=None: None)
    assert b"".join(result) == b"abc"
    time.sleep(0.05)  # the server still sending
    result.close()
    data = client.tracked[0].data
    assert data["response_bytes"] == 3
    assert data["duration_ms"] >= 100
