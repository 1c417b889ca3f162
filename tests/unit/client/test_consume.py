"""consume: 200 and 429 are both decisions, with the RateLimit headers parsed."""

from __future__ import annotations

import json

import httpx
import pytest

from tollgate.client import Tollgate, TollgateUnavailable

from .conftest import MaxRandom, problem

LIMIT = {
    "meter": "api_calls",
    "window": "day",
    "limit": 100,
    "used": 100,
    "remaining": 0,
    "resets_at": "2026-01-02T00:00:00+01:00",
    "enforcement": "hard",
    "exceeded": True,
}
HEADERS = {
    "RateLimit-Policy": '"api_calls.day";q=100;w=86400, "api_calls.minute";q=10;w=60',
    "RateLimit": '"api_calls.day";r=0;t=3600, "api_calls.minute";r=4;t=12',
}


def client(api, sleep):
    return Tollgate("http://tollgate.test", "k", transport=api.transport, sleep=sleep, rng=MaxRandom())


def test_a_denial_is_a_decision_not_an_exception(api, sleep):
    body = {"allowed": False, "reason": "quota_exceeded", "replayed": False, "limits": [LIMIT]}
    api.default = httpx.Response(429, json=body, headers={**HEADERS, "Retry-After": "3600"})
    d = client(api, sleep).consume("api_calls", tenant="t1")
    assert (d.allowed, d.reason, d.retry_after) == (False, "quota_exceeded", 3600)
    assert d.limits[0].remaining == 0 and d.limits[0].resets_at.utcoffset().total_seconds() == 3600
    assert [(m.name, m.limit, m.window, m.remaining, m.reset) for m in d.ratelimit] == [
        ("api_calls.day", 100, 86400, 0, 3600),
        ("api_calls.minute", 10, 60, 4, 12),
    ]
    assert d.headers == {**HEADERS, "Retry-After": "3600"}
    assert len(api.requests) == 1 and sleep.waits == []  # a decision is not retried


def test_allowed(api, sleep):
    ok = {**LIMIT, "used": 5, "remaining": 95, "exceeded": False}
    api.default = httpx.Response(200, json={"allowed": True, "limits": [ok]}, headers=HEADERS)
    d = client(api, sleep).consume("api_calls", 5, tenant="t1")
    assert d.allowed and d.reason is None and d.retry_after is None and not d.replayed
    assert json.loads(api.requests[0].content)["amount"] == 5


def test_the_id_is_fixed_across_retries(api, sleep):
    api.script = [httpx.Response(503), httpx.ConnectError("down"), httpx.Response(504)]
    api.default = httpx.Response(200, json={"allowed": True, "replayed": True, "limits": []})
    d = client(api, sleep).consume("api_calls", tenant="t1")
    ids = {json.loads(r.content)["id"] for r in api.requests}
    assert len(api.requests) == 4 and len(ids) == 1 and d.replayed


def test_an_edge_rate_limit_problem_is_retried_then_unavailable(api, sleep):
    api.default = problem(429, "rate-limited")
    with pytest.raises(TollgateUnavailable):
        client(api, sleep).consume("api_calls", tenant="t1", max_retries=2)
    assert len(api.requests) == 3


def test_an_inexact_decimal_amount_is_refused():
    from decimal import Decimal

    from tollgate.client._encode import json_number

    assert json_number(Decimal("2.50")) == 2.5 and json_number(Decimal("3")) == 3
    with pytest.raises(ValueError):
        json_number(Decimal("0.12345678901234567891"))
