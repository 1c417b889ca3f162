"""Enforcement, the same on both middlewares (FastAPI through ASGI, Flask through WSGI): the
consume before the handler, a denial answered 429 without calling it, the RateLimit headers
passed through, the same-meter rule (no second count) and the failure policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.tollgate_client import FakeAsyncClient, FakeClient, allow, deny
from tests.unit.middleware.apps import TestClient, asgi_tenant, fastapi_app, flask_app, wsgi_tenant
from tollgate.client import ProblemError, TollgateUnavailable
from tollgate.middleware import TollgateASGIMiddleware, TollgateWSGIMiddleware

POLICY = 'quota;q=100;w=2592000, "rate";q=10;w=1'
STATE = 'quota;r=99;t=3600, "rate";r=9;t=1'


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json"
        return json.loads(self.body)


class Harness:
    def __init__(self, flavor: str, *answers: Any, **options: Any) -> None:
        self.flavor = flavor
        self.calls = 0
        if flavor == "asgi":
            self.client: FakeClient = FakeAsyncClient(*answers)
            app = fastapi_app()
            app.add_middleware(_Counting, harness=self)
            app.add_middleware(TollgateASGIMiddleware, client=self.client, tenant=asgi_tenant, **options)
            self._http = TestClient(app)
        else:
            self.client = FakeClient(*answers)
            flask = flask_app()
            flask.before_request(self._count)
            flask.wsgi_app = TollgateWSGIMiddleware(flask.wsgi_app, client=self.client, tenant=wsgi_tenant, **options)  # type: ignore[method-assign]
            self._http = flask.test_client()

    def _count(self) -> None:
        self.calls += 1

    def get(self, path: str = "/items/1", tenant: str | None = "acme") -> Answer:
        headers = {"X-Tenant": tenant} if tenant else {}
        if self.flavor == "asgi":
            r = self._http.get(path, headers=headers)
        else:  # buffered: read and close the iterable, as a WSGI server does
            r = self._http.get(path, headers=headers, buffered=True)
        body = r.content if self.flavor == "asgi" else r.get_data()
        return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, body)


class _Counting:
    """An inner ASGI middleware: counts the requests that reached the application."""

    def __init__(self, app: Any, harness: Harness) -> None:
        self.app, self.harness = app, harness

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.harness.calls += 1
        await self.app(scope, receive, send)


FLAVORS = pytest.mark.parametrize("flavor", ["asgi", "wsgi"])


@FLAVORS
def test_a_denial_answers_429_with_the_decisions_headers_and_never_calls_the_handler(flavor):
    h = Harness(flavor, deny("quota_exceeded", 42, **{"RateLimit-Policy": POLICY, "RateLimit": STATE}), enforce=True)
    answer = h.get()
    assert answer.status == 429
    assert answer.headers["retry-after"] == "42"
    assert answer.headers["ratelimit-policy"] == POLICY
    assert answer.headers["ratelimit"] == STATE
    problem = answer.problem()
    assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
    assert problem["type"] == "/problems/quota-exceeded"
    assert "quota_exceeded" in problem["detail"]
    assert h.calls == 0
    assert h.client.tracked == []


@FLAVORS
def test_a_rate_limited_denial_says_so(flavor):
    h = Harness(flavor, deny("rate_limited", 1), enforce=True)
    problem = h.get().problem()
    assert problem["type"] == "/problems/rate-limited"
    assert "rate_limited" in problem["detail"]


@FLAVORS
def test_allowed_on_the_tracked_meter_consumes_once_and_tracks_nothing_more(flavor):
    h = Harness(flavor, allow(), meter="api_calls", enforce=True)
    assert h.get().status == 200
    assert h.calls == 1
    [consumed] = h.client.consumed
    assert (consumed.meter, consumed.amount, consumed.tenant) == ("api_calls", 1, "acme")
    assert consumed.max_retries is not None and consumed.max_retries <= 1  # the request waits: few retries
    assert h.client.tracked == []  # the consume counted the request


@FLAVORS
def test_allowed_on_another_meter_tracks_the_request_under_its_own_id(flavor):
    h = Harness(flavor, allow(), meter="api_calls", enforce="requests_per_min")
    h.get()
    [consumed], [tracked] = h.client.consumed, h.client.tracked
    assert consumed.meter == "requests_per_min"
    assert tracked.type == "api_calls" and tracked.data["route"] == "/items/{item_id}"
    assert consumed.id != tracked.id  # the server dedupes ids per tenant across meters


@FLAVORS
def test_the_decisions_ratelimit_headers_pass_through_unless_the_app_set_its_own(flavor):
    decision = allow(**{"RateLimit-Policy": POLICY, "RateLimit": STATE})
    h = Harness(flavor, decision, decision, enforce=True)
    plain = h.get("/items/1")
    assert (plain.headers["ratelimit-policy"], plain.headers["ratelimit"]) == (POLICY, STATE)
    own = h.get("/limited")
    assert own.headers["ratelimit"] == "own"
    assert own.headers["ratelimit-policy"] == POLICY


@FLAVORS
def test_failure_open_serves_and_tracks_under_the_consumes_id(flavor, caplog):
    h = Harness(flavor, TollgateUnavailable("connection refused", attempts=2), enforce=True)
    with caplog.at_level("WARNING", logger="tollgate.middleware"):
        assert h.get().status == 200
    assert h.calls == 1
    [consumed], [tracked] = h.client.consumed, h.client.tracked
    assert tracked.id == consumed.id  # if the consume did count, the event is a duplicate
    assert "unreachable" in caplog.text


@FLAVORS
def test_failure_open_logs_once_per_minute_not_once_per_request(flavor, caplog):
    h = Harness(flavor, *[TollgateUnavailable("down", attempts=2)] * 5, enforce=True)
    with caplog.at_level("WARNING", logger="tollgate.middleware"):
        for _ in range(5):
            assert h.get().status == 200
    assert len([r for r in caplog.records if r.name == "tollgate.middleware"]) == 1


@FLAVORS
def test_failure_closed_answers_503_and_neither_calls_nor_tracks(flavor):
    h = Harness(flavor, TollgateUnavailable("down", attempts=2), enforce=True, failure="closed")
    answer = h.get()
    assert answer.status == 503
    assert int(answer.headers["retry-after"]) > 0
    assert answer.problem()["type"] == "/problems/service-unavailable"
    assert h.calls == 0
    assert h.client.tracked == []


@FLAVORS
@pytest.mark.parametrize("failure", ["open", "closed"])
def test_a_problem_from_the_client_is_a_configuration_error_logged_and_under_the_policy(flavor, failure, caplog):
    forbidden = ProblemError(403, "/problems/forbidden", "Forbidden", "this key cannot consume for acme", [])
    h = Harness(flavor, forbidden, enforce=True, failure=failure)
    with caplog.at_level("ERROR", logger="tollgate.middleware"):
        answer = h.get()
    assert any(r.levelname == "ERROR" for r in caplog.records)
    assert answer.status == (200 if failure == "open" else 503)
    assert h.calls == (1 if failure == "open" else 0)


@FLAVORS
def test_no_tenant_is_neither_enforced_nor_tracked(flavor):
    h = Harness(flavor, deny(), enforce=True)
    assert h.get(tenant=None).status == 200
    assert h.client.consumed == [] and h.client.tracked == []


@FLAVORS
def test_an_unreadable_decision_follows_the_failure_policy(flavor, caplog):
    h = Harness(flavor, object(), enforce=True, failure="closed")  # no .allowed: a client bug
    with caplog.at_level("ERROR", logger="tollgate.middleware"):
        assert h.get().status == 503
    assert h.calls == 0
