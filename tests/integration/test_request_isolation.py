"""Concurrent requests must not see each other's request state (architecture review §3.6).

The local stack runs a function as a pool of "execution environments" in one process
(``FunctionRuntime``: one import of the function's ``app.py`` per environment, concurrent
invocations on further environments), as Lambda would run them in separate processes. This
test does exactly that with the ingest function: 8 threads x 50 ``POST /v1/events``, each
thread with its own tenant's key, the events as API Gateway hands them over (authorizer
context included). Each event names its own tenant as ``subject``, so a request that reached
the route with another tenant's principal is refused (422, "tenant ... not found"), and one
that lost its principal is a 401.

The rate-limit step, which runs between authentication and the route, pauses 1 ms (as a
lease write to DynamoDB does), so requests overlap there.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import InProcessApi, Reply, cli_admin_key

THREADS, REQUESTS = 8, 50
RATE_CHECK_PAUSE_S = 0.001


@pytest.fixture
def rate_check_pauses(monkeypatch) -> Counter:
    """Every rate-limit decision pauses first; the counter proves the pause was in the path."""
    from tollgate.services.ratelimit import RateLimiter

    calls: Counter = Counter()
    acquire = RateLimiter.acquire

    def slow_acquire(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["acquire"] += 1
        time.sleep(RATE_CHECK_PAUSE_S)
        return acquire(self, *args, **kwargs)

    monkeypatch.setattr(RateLimiter, "acquire", slow_acquire)
    return calls


@pytest.fixture
def tenants(aws) -> dict[str, list[dict[str, Any]]]:
    """8 tenants, a tenant key each, and each tenant's 50 ingest events as API Gateway sends
    them; all made through the API and the authorizer."""
    api, admin = InProcessApi(), cli_admin_key("isolation")
    meter = {"key": "isolation.calls", "name": "calls", "aggregation": "count"}
    assert api.call("POST", "/v1/meters", key=admin, body=meter).status == 201
    events: dict[str, list[dict[str, Any]]] = {}
    for n in range(THREADS):
        tenant = f"iso-{n}"
        assert api.call("POST", "/v1/tenants", key=admin, body={"id": tenant, "name": tenant}).status == 201
        reply = api.call("POST", "/v1/keys", key=admin, body={"scope": "tenant", "tenant_id": tenant})
        assert reply.status == 201, reply.body
        events[tenant] = [
            api.request(
                "POST",
                "/v1/events",
                key=reply.body["key"],
                body={"id": uuid.uuid4().hex, "type": meter["key"], "subject": tenant},
            )[1]
            for _ in range(REQUESTS)
        ]
    return events


def _outcome(reply: Reply) -> str:
    if reply.status == 202 and reply.body.get("accepted") == 1:
        return "own principal"
    if reply.status == 401:
        return "401: principal lost"
    if reply.status in (404, 422) and "not found" in str(reply.body):
        return "another tenant's principal"
    return f"other: {reply.status} {reply.body}"


def test_concurrent_ingest_requests_keep_their_own_principal(tenants, rate_check_pauses) -> None:
    from tollgate_dev.local.runtime import FunctionRuntime
    from tollgate_dev.local.template import Template

    runtime = FunctionRuntime(Template.load(ROOT / "template.yaml").functions()["IngestFunction"])
    runtime.warm()

    def send_all(tenant: str) -> list[str]:
        return [_outcome(Reply.of(runtime.invoke(event))) for event in tenants[tenant]]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = Counter(o for results in pool.map(send_all, tenants) for o in results)

    assert rate_check_pauses["acquire"] >= THREADS * REQUESTS, "the pause was not in the rate-limit step"
    assert outcomes == {"own principal": THREADS * REQUESTS}, (
        f"{THREADS} threads x {REQUESTS} requests, each tenant's key for its own events: {dict(outcomes)}"
    )
