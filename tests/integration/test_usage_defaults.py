"""GET /v1/usage without ``from`` and ``to``: the current month in the tenant's zone, by the
injectable clock (tollgate.services.clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import new_root
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tests.integration.routing import RoutedApi


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 15, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def world(fresh_aws, monkeypatch):
    from tollgate.domain.keys import Scope
    from tollgate.services import clock as clock_module

    clock = Clock()
    monkeypatch.setattr(clock_module, "now", clock)
    # These tests move the clock back by hours or weeks, which a token bucket kept in wall-clock
    # time reads as "the bucket is ahead of now": the API rate limit is off in their
    # environments (each function environment's root reads it once, at its start).
    monkeypatch.delenv("RATE_LIMITS_TABLE")
    api, admin = RoutedApi(), new_root().keys.create_key(Scope.ADMIN, name="test-admin")[1]
    body = {"key": "api_calls", "name": "API calls", "aggregation": "sum"}
    assert api.call("POST", "/v1/meters", key=admin, body=body).status == 201
    body = {"id": "acme", "name": "Acme", "timezone": "Europe/Paris"}
    assert api.call("POST", "/v1/tenants", key=admin, body=body).status == 201
    return api, admin, clock


def usage(api, key, **query):
    return api.call("GET", "/v1/usage", key=key, query={"tenant": "acme", "meter": "api_calls", **query})


def consume(api, key, event_id, amount):
    body = {"id": event_id, "tenant": "acme", "meter": "api_calls", "amount": amount}
    assert api.call("POST", "/v1/consume", key=key, body=body).status == 200


def test_the_default_range_is_the_current_month_in_the_tenants_zone(world):
    api, admin, clock = world
    consume(api, admin, "c1", 3)
    r = usage(api, admin)
    assert r.status == 200, r.body
    assert (r.body["from"], r.body["to"]) == ("2026-12-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00")
    assert r.body["total"] == 3 and [p["value"] for p in r.body["series"]] == [3]


def test_the_month_turns_at_the_tenants_midnight_not_utcs(world):
    api, admin, clock = world
    clock.at = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # already 1 December in Paris
    consume(api, admin, "c1", 2)
    r = usage(api, admin, window="month")
    assert (r.body["from"], r.body["to"]) == ("2026-12-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00")
    assert r.body["total"] == 2
    clock.at = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # still November in Paris
    r = usage(api, admin, window="month")
    assert (r.body["from"], r.body["to"]) == ("2026-11-01T00:00:00+01:00", "2026-12-01T00:00:00+01:00")
    assert r.body["total"] == 0


def test_an_hour_series_covers_a_month_with_a_dst_change(world):
    api, admin, clock = world
    clock.at = datetime(2026, 10, 15, 10, 0, tzinfo=UTC)  # October: 31 days and one hour in Paris
    r = usage(api, admin, window="hour")
    assert r.status == 200, r.body
    assert (r.body["from"], r.body["to"]) == ("2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00")


def test_either_bound_may_be_given_alone(world):
    api, admin, clock = world
    r = usage(api, admin, **{"from": "2026-12-10T00:00:00Z"})
    assert r.status == 200 and (r.body["from"], r.body["to"]) == ("2026-12-10T00:00:00Z", "2027-01-01T00:00:00+01:00")
    r = usage(api, admin, to="2026-12-20T00:00:00Z")
    assert r.status == 200 and (r.body["from"], r.body["to"]) == ("2026-12-01T00:00:00+01:00", "2026-12-20T00:00:00Z")
    r = usage(api, admin, to="2026-11-20T00:00:00Z")  # before the default from
    assert r.status == 422 and [e["field"] for e in r.problem["errors"]] == ["to"]


def test_the_openapi_document_gives_the_defaults(world):
    api, admin, clock = world
    doc = api.call("GET", "/openapi.json").body
    params = {p["name"]: p for p in doc["paths"]["/v1/usage"]["get"]["parameters"]}
    assert not params["from"].get("required") and not params["to"].get("required")
    assert "current month" in params["from"]["description"] and "tenant's" in params["from"]["description"]
    assert "next month" in params["to"]["description"]
