"""Retries with a fake clock: the exact schedule, Retry-After, and what never retries."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tollgate.client import ProblemError, Tollgate, TollgateUnavailable
from tollgate.client._retry import RetryPolicy, parse_retry_after

from .conftest import MaxRandom, problem

QUOTAS = {"tenant": "t1", "timezone": "UTC", "quotas": []}


def client(api, sleep, **kw):
    return Tollgate("http://tollgate.test", "k", transport=api.transport, sleep=sleep, rng=MaxRandom(), **kw)


def test_full_jitter_draws_between_zero_and_the_capped_exponential():
    rng = MaxRandom()
    policy = RetryPolicy(max_retries=8, base=0.5, cap=4.0)
    assert [policy.delay(a, rng) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert rng.bounds == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 4.0), (0.0, 4.0)]
    assert policy.delay(0, rng, retry_after=7.0) == 7.0  # at least Retry-After


def test_the_exact_schedule_then_unavailable(api, sleep):
    api.default = httpx.Response(503)
    tg = client(api, sleep, max_retries=4)
    with pytest.raises(TollgateUnavailable) as err:
        tg.quotas("t1")
    assert sleep.waits == [0.5, 1.0, 2.0, 4.0]
    assert len(api.requests) == 5 and err.value.attempts == 5 and err.value.status == 503


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, json={"type": "/problems/rate-limited", "title": "t", "status": 429, "detail": "d"}),
        httpx.Response(502),
        httpx.Response(503),
        httpx.Response(504),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["429", "502", "503", "504", "connect", "timeout"],
)
def test_transient_failures_are_retried(api, sleep, failure):
    api.script = [failure, failure]
    api.default = httpx.Response(200, json=QUOTAS)
    assert client(api, sleep).quotas("t1").tenant == "t1"
    assert len(api.requests) == 3 and sleep.waits == [0.5, 1.0]


def test_retry_after_seconds_and_http_date_are_honoured(api, sleep):
    api.script = [
        httpx.Response(503, headers={"Retry-After": "7"}),
        httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
    ]
    api.default = httpx.Response(200, json=QUOTAS)
    client(api, sleep).quotas("t1")
    assert sleep.waits[0] == 7.0
    assert sleep.waits[1] > 10 * 365 * 86400  # until that date


def test_parse_retry_after():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_raise_the_problem_at_once(api, sleep, status):
    api.default = problem(status, errors=[{"field": "tenant", "message": "bad"}])
    with pytest.raises(ProblemError) as err:
        client(api, sleep).quotas("t1")
    e = err.value
    assert (e.status, e.type, e.title, e.errors) == (
        status,
        "/problems/validation-failed",
        "validation failed",
        [{"field": "tenant", "message": "bad"}],
    )
    assert len(api.requests) == 1 and sleep.waits == []


def test_a_write_that_may_have_run_is_not_retried(api, sleep):
    api.script = [httpx.ReadTimeout("slow")]
    with pytest.raises(TollgateUnavailable):
        client(api, sleep).create_tenant("acme", "Acme")
    assert len(api.requests) == 1


def test_a_write_refused_before_it_ran_is_retried(api, sleep):
    api.script = [httpx.ConnectError("refused"), problem(429, "rate-limited")]
    api.default = httpx.Response(
        201,
        json={
            "id": "acme",
            "name": "Acme",
            "plan": None,
            "billing_email": None,
            "currency": "USD",
            "timezone": "UTC",
            "metadata": None,
            "billing_address": None,
            "tax_id": None,
            "tax_exempt": False,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "health": {"status": "healthy", "has_overages": False, "updated_at": None},
        },
    )
    assert client(api, sleep).create_tenant("acme", "Acme").id == "acme"
    assert len(api.requests) == 3


def test_send_events_resends_the_same_ids(api, sleep):
    api.script = [httpx.Response(503), httpx.ConnectError("down")]
    result = client(api, sleep).send_events([{"type": "api_calls", "subject": "t1"}, {"id": "mine", "type": "x"}])
    ids = api.event_ids()
    assert len(ids) == 3 and ids[0] == ids[1] == ids[2] and ids[0][1] == "mine"
    assert result.accepted == 2
