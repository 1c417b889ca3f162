"""The middleware end to end: a FastAPI app and a Flask app, driven in-process by their test
clients, each with the middleware whose own SDK client talks HTTP to the running local stack.
Their requests are counted exactly, by route template, and a hard limit lets exactly its
number of requests reach the handler."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
import requests

from tests.e2e.conftest import recent_usage
from tests.e2e.local_faults import injected
from tests.unit.middleware.apps import TestClient, asgi_tenant, fastapi_app, flask_app, wsgi_tenant
from tollgate.middleware import TollgateASGIMiddleware, TollgateWSGIMiddleware

pytestmark = pytest.mark.e2e

LIMIT = 5
DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def world(local_stack):
    """Two meters (one grouped by route, one under a hard monthly limit of LIMIT), a plan with
    that limit, a tenant per app on it, and an ingest key (a backend serving many tenants)."""
    base, admin = local_stack.base_url, {"Authorization": f"Bearer {local_stack.admin_key}"}
    tag = uuid.uuid4().hex[:8]
    counted, limited, plan = f"{tag}.calls", f"{tag}.limited", f"plan-{tag}"
    for key, spec in ((counted, {"group_by": ["route"]}), (limited, {})):
        r = requests.post(
            f"{base}/v1/meters", headers=admin, json={"key": key, "name": key, "aggregation": "count", **spec}
        )
        assert r.status_code == 201, r.text
    body = {"name": "Middleware E2E", "limits": [{"meter": limited, "window": "month", "limit": LIMIT}]}
    assert requests.put(f"{base}/v1/plans/{plan}", headers=admin, json=body, timeout=10).status_code == 200
    tenants = {}
    for app in ("fastapi", "flask", "open", "closed"):
        tenants[app] = f"mw-{app}-{tag}"
        body = {"id": tenants[app], "name": app, "timezone": "UTC", "plan": plan}
        assert requests.post(f"{base}/v1/tenants", headers=admin, json=body, timeout=10).status_code == 201
    key = requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "ingest"}, timeout=10).json()["key"]
    return {
        "stack": local_stack,
        "base": base,
        "admin": admin,
        "counted": counted,
        "limited": limited,
        "tenants": tenants,
        "key": key,
    }


def _usage(world, tenant, meter, **extra):
    return recent_usage(world["stack"], tenant, meter, **extra)


def _wait_for_total(world, tenant, meter, expected):
    """Counting is asynchronous (SQS, the consumer): poll until the total is ``expected``, then
    stay a moment to see it does not go past it."""
    deadline = time.monotonic() + DEADLINE_S
    total = None
    while time.monotonic() < deadline:
        total = _usage(world, tenant, meter)["total"]
        if total is not None and total >= expected:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    return _usage(world, tenant, meter)["total"]


def _by_route(world, tenant, meter):
    series = _usage(world, tenant, meter, group_by="route")["series"]
    totals: Counter[str] = Counter()
    for point in series:
        totals[point["group"]["route"]] += point["value"]
    return dict(totals)


PLAN = [("/items/1", 3), ("/items/22", 4), ("/v2/users/u-1", 5)]  # distinct raw paths, two templates
EXPECTED_ROUTES = {"/items/{item_id}": 7, "/v2/users/{user_id}": 5}


def test_fastapi_requests_are_counted_exactly_by_route(world):
    tenant = world["tenants"]["fastapi"]
    app = fastapi_app()
    app.add_middleware(
        TollgateASGIMiddleware, base_url=world["base"], key=world["key"], tenant=asgi_tenant, meter=world["counted"]
    )
    with TestClient(app) as http:  # its lifespan shutdown closes the middleware's client: flushed
        for path, times in PLAN:
            for _ in range(times):
                assert http.get(path, headers={"X-Tenant": tenant}).status_code == 200
        assert http.get("/items/1").status_code == 200  # no tenant: not tracked
    assert _wait_for_total(world, tenant, world["counted"], 12) == 12
    assert _by_route(world, tenant, world["counted"]) == EXPECTED_ROUTES


def test_flask_requests_are_counted_exactly_by_route(world):
    tenant = world["tenants"]["flask"]
    app = flask_app()
    middleware = TollgateWSGIMiddleware(
        app.wsgi_app, base_url=world["base"], key=world["key"], tenant=wsgi_tenant, meter=world["counted"]
    )
    app.wsgi_app = middleware  # type: ignore[method-assign]
    http = app.test_client()
    plan = [("/items/1", 3), ("/items/22", 4), ("/v2/files/a/b.txt", 5)]
    for path, times in plan:
        for _ in range(times):
            assert http.get(path, headers={"X-Tenant": tenant}, buffered=True).status_code == 200
    middleware.close()
    assert _wait_for_total(world, tenant, world["counted"], 12) == 12
    assert _by_route(world, tenant, world["counted"]) == {"/items/{item_id}": 7, "/v2/files/{name}": 5}


def _calls_counter():
    calls = []
    return calls, lambda: calls.append(1)


def test_fastapi_with_a_hard_limit_lets_exactly_the_limit_through(world):
    tenant = world["tenants"]["fastapi"]
    app = fastapi_app()
    reached = []

    @app.middleware("http")
    async def count(request, call_next):  # inside the Tollgate middleware: counts what reached the app
        reached.append(1)
        return await call_next(request)

    app.add_middleware(
        TollgateASGIMiddleware,
        base_url=world["base"],
        key=world["key"],
        tenant=asgi_tenant,
        meter=world["limited"],
        enforce=True,
    )
    with TestClient(app) as http:
        answers = [http.get(f"/items/{n}", headers={"X-Tenant": tenant}) for n in range(LIMIT + 3)]
    assert [a.status_code for a in answers] == [200] * LIMIT + [429] * 3
    assert len(reached) == LIMIT
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers[LIMIT:])
    assert answers[-1].json()["type"] == "/problems/quota-exceeded"
    assert _wait_for_total(world, tenant, world["limited"], LIMIT) == LIMIT  # consumed once each, not tracked again


def test_flask_with_a_hard_limit_lets_exactly_the_limit_through(world):
    tenant = world["tenants"]["flask"]
    app = flask_app()
    reached, count = _calls_counter()
    app.before_request(count)
    middleware = TollgateWSGIMiddleware(
        app.wsgi_app, base_url=world["base"], key=world["key"], tenant=wsgi_tenant, meter=world["limited"], enforce=True
    )
    app.wsgi_app = middleware  # type: ignore[method-assign]
    http = app.test_client()
    answers = [http.get(f"/items/{n}", headers={"X-Tenant": tenant}, buffered=True) for n in range(LIMIT + 3)]
    middleware.close()
    assert [a.status_code for a in answers] == [200] * LIMIT + [429] * 3
    assert len(reached) == LIMIT
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers[LIMIT:])
    assert _wait_for_total(world, tenant, world["limited"], LIMIT) == LIMIT


def _flask_enforcing(world, failure):
    app = flask_app()
    reached, count = _calls_counter()
    app.before_request(count)
    middleware = TollgateWSGIMiddleware(
        app.wsgi_app,
        base_url=world["base"],
        key=world["key"],
        tenant=wsgi_tenant,
        meter=world["limited"],
        enforce=True,
        failure=failure,
    )
    app.wsgi_app = middleware  # type: ignore[method-assign]
    return app.test_client(), middleware, reached


def test_failure_open_counts_a_request_whose_consume_answer_was_lost_exactly_once(local_stack, world):
    """The consume of the first request is processed (counted) but its answer is lost, twice
    (the retry): the middleware serves the request and tracks it under the consume's id, which
    the consumer then drops as a duplicate. Three requests, exactly three counted."""
    tenant = world["tenants"]["open"]
    http, middleware, reached = _flask_enforcing(world, "open")
    with injected(local_stack) as faults:
        faults.add(target="gateway", path="/v1/consume", method="POST", status=503, phase="after", count=2)
        first = http.get("/items/1", headers={"X-Tenant": tenant}, buffered=True)
        assert faults.hits() == [2]
    rest = [http.get(f"/items/{n}", headers={"X-Tenant": tenant}, buffered=True) for n in (2, 3)]
    # A sentinel on another meter, in the same batch as the first request's event: once it is
    # counted, the consumer has been through that event too (counted, or dropped as a duplicate).
    middleware.client.track(world["counted"], subject=tenant, data={"value": 1, "route": "sentinel"})
    middleware.close()
    assert [a.status_code for a in (first, *rest)] == [200, 200, 200]
    assert len(reached) == 3
    assert _wait_for_total(world, tenant, world["counted"], 1) == 1
    assert _usage(world, tenant, world["limited"])["total"] == 3


def test_failure_closed_answers_503_and_counts_nothing_when_tollgate_is_down(local_stack, world):
    tenant = world["tenants"]["closed"]
    http, middleware, reached = _flask_enforcing(world, "closed")
    with injected(local_stack) as faults:
        faults.add(target="gateway", path="/v1/consume", method="POST", status=503, phase="before", count=2)
        down = http.get("/items/1", headers={"X-Tenant": tenant}, buffered=True)
    up = http.get("/items/2", headers={"X-Tenant": tenant}, buffered=True)
    middleware.close()
    assert (down.status_code, up.status_code) == (503, 200)
    assert down.headers["Retry-After"] and down.get_json()["type"] == "/problems/service-unavailable"
    assert len(reached) == 1
    assert _wait_for_total(world, tenant, world["limited"], 1) == 1
