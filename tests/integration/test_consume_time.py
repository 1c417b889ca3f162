"""POST /v1/consume is admission control - "may I use this now?" - so its ``time`` must be now,
within the 5 minutes of clock skew ingest allows ahead (either way). A back-dated consume used
to be judged against last month's counters and so walked around a monthly hard quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import new_root
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tests.integration.routing import RoutedApi

NOW = datetime(2026, 12, 15, 10, 0, tzinfo=UTC)
LAST_DAY_OF_LAST_MONTH = "2026-11-30T23:59:00Z"


@pytest.fixture
def world(fresh_aws, monkeypatch):
    from tollgate.domain.keys import Scope
    from tollgate.services import clock

    monkeypatch.setattr(clock, "now", lambda: NOW)
    api, admin_key = RoutedApi(), new_root().keys.create_key(Scope.ADMIN, name="test-admin")[1]
    plan = {"name": "Hundred", "limits": [{"meter": "api_calls", "window": "month", "limit": 100}]}
    assert api.call("PUT", "/v1/plans/hundred", key=admin_key, body=plan).status == 200
    body = {"key": "api_calls", "name": "API calls", "aggregation": "sum"}
    assert api.call("POST", "/v1/meters", key=admin_key, body=body).status == 201
    body = {"id": "acme", "name": "Acme", "plan": "hundred"}
    assert api.call("POST", "/v1/tenants", key=admin_key, body=body).status == 201
    return api, admin_key


def consume(api, key, **body):
    return api.call("POST", "/v1/consume", key=key, body={"tenant": "acme", "meter": "api_calls", **body})


def test_back_dating_does_not_bypass_a_monthly_hard_quota(world):
    api, key = world
    assert consume(api, key, id="c1", amount=100).status == 200
    assert consume(api, key, id="c2", amount=1).status == 429
    back_dated = consume(api, key, id="c3", amount=100, time=LAST_DAY_OF_LAST_MONTH)
    assert back_dated.status == 422, back_dated.body
    assert [e["field"] for e in back_dated.problem["errors"]] == ["time"]
    assert "/v1/events" in back_dated.problem["detail"]
    quotas = api.call("GET", "/v1/quotas", key=key, query={"tenant": "acme"}).body["quotas"]
    assert [(q["window"], q["used"]) for q in quotas] == [("month", 100)]


@pytest.mark.parametrize(
    "offset,status",
    [
        (timedelta(minutes=-5), 200),
        (timedelta(minutes=5), 200),
        (timedelta(minutes=-5, seconds=-1), 422),
        (timedelta(minutes=5, seconds=1), 422),
        (timedelta(days=-1), 422),
    ],
)
def test_consume_time_is_now_within_five_minutes_either_way(world, offset, status):
    api, key = world
    r = consume(api, key, id="c1", amount=1, time=(NOW + offset).isoformat())
    assert r.status == status, r.body
    if status == 422:
        assert [e["field"] for e in r.problem["errors"]] == ["time"]
