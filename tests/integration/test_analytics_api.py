"""GET /v1/analytics/usage and GET /v1/tenants?sort=usage:<meter> through the API function on
moto, after the aggregator's roll-up job (its handler, with the template's environment): the
shape the console reads, and bad input as 422 problem+json naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import FakeContext, new_root
from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.periods import Window

from .test_cursors import CRAFTED


def _count(root, tenant: str, at: datetime, value: int) -> None:
    """The consumer's hour and day counters of a UTC tenant, and the stream path's activity mark."""
    for window in (Window.HOUR, Window.DAY):
        start = periods.window_start(at, window, periods.zone("UTC"))
        item = {"pk": {"S": keys.total_pk(tenant, "api_calls", window)}, "sk": {"S": periods.utc_key(start)}}
        root.dynamodb.put_item(TableName=root.settings.counters_table, Item={**item, "v": {"N": str(value)}})
    root.activity_index.mark(datetime.now(UTC), [(tenant, "api_calls")])


@pytest.fixture(scope="module")
def world(acme_module):
    api, key = acme_module
    for tid in ("bolt", "corp"):
        assert api.call("POST", "/v1/tenants", key=key, body={"id": tid, "name": tid}).status == 201
    assert (
        api.call("POST", "/v1/meters", key=key, body={"key": "peak", "name": "P", "aggregation": "max"}).status == 201
    )
    root = new_root()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for tenant, value in (("acme", 5), ("bolt", 40), ("corp", 12)):
        _count(root, tenant, hour, value)
    job = api.handler_for("AggregatorFunction")({"job": "analytics-rollup"}, FakeContext())
    assert job["rolled"] == 3 and job["errors"] == 0, job
    return api, key, hour


def test_the_series_and_the_ranking_from_the_job_s_roll_ups(world):
    api, key, hour = world
    query = {"meter": "api_calls", "from": hour.isoformat(), "to": (hour + timedelta(hours=1)).isoformat()}
    r = api.call("GET", "/v1/analytics/usage", key=key, query=query)
    assert r.status == 200, r.body
    assert r.body["total"] == 57 and r.body["series"][0]["value"] == 57 and "groups" not in r.body
    assert r.body["from"] == hour.replace(hour=0).isoformat().replace("+00:00", "Z")
    ranked = api.call("GET", "/v1/analytics/usage", key=key, query={**query, "group_by": "tenant", "limit": "2"})
    assert [(g["key"], g["total"]) for g in ranked.body["groups"]] == [("bolt", 40), ("corp", 12)]
    listed = api.call("GET", "/v1/tenants", key=key, query={"sort": "usage:api_calls"})
    assert [t["id"] for t in listed.body["items"]] == ["bolt", "corp", "acme"] and listed.body["next_cursor"] is None
    first = api.call("GET", "/v1/tenants", key=key, query={"sort": "usage:api_calls", "limit": "1"})
    rest = api.call(
        "GET",
        "/v1/tenants",
        key=key,
        query={"sort": "usage:api_calls", "limit": "5", "cursor": first.body["next_cursor"]},
    )
    assert [t["id"] for t in first.body["items"] + rest.body["items"]] == ["bolt", "corp", "acme"]
    assert new_root().rollup_store.month_tenants("api_calls", hour.date().replace(day=1))["bolt"] == (Decimal(40), None)


def test_the_ranked_list_combines_with_q_and_plan(world):
    api, key, _ = world
    only = api.call("GET", "/v1/tenants", key=key, query={"sort": "usage:api_calls", "q": "CO"})
    assert [t["id"] for t in only.body["items"]] == ["corp"]
    none = api.call("GET", "/v1/tenants", key=key, query={"sort": "usage:api_calls", "plan": "gold"})
    assert none.status == 200 and none.body["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"meter": "api_calls", "interval": "hour"}, "interval"),
        ({"meter": "api_calls", "group_by": "region"}, "group_by"),
        ({"meter": "api_calls", "limit": "0"}, "limit"),
        ({"meter": "api_calls", "limit": "101"}, "limit"),
        ({"meter": "api_calls", "from": "yesterday"}, "from"),
        ({"meter": "api_calls", "from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "to"),
        ({"meter": "peak"}, "meter"),
        ({"meter": "api_calls", "tenant": "acme", "plan": "free"}, "plan"),
        ({}, "meter"),
    ],
)
def test_bad_analytics_input_is_422_naming_the_field(world, query, field):
    api, key, _ = world
    r = api.call("GET", "/v1/analytics/usage", key=key, query=query)
    assert r.status == 422, r.body
    assert [e["field"] for e in r.problem["errors"]] == [field]


def test_an_unknown_meter_is_404(world):
    api, key, _ = world
    assert api.call("GET", "/v1/analytics/usage", key=key, query={"meter": "nope"}).status == 404


@pytest.mark.parametrize("sort", ["usage:peak", "usage:nope", "usage", "name", "usage:"])
def test_a_sort_that_is_not_a_sum_or_count_meter_is_422_naming_sort(world, sort):
    api, key, _ = world
    r = api.call("GET", "/v1/tenants", key=key, query={"sort": sort})
    assert r.status == 422 and [e["field"] for e in r.problem["errors"]] == ["sort"], r.body


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_cursors_on_the_sorted_list_are_422_naming_cursor(world, name):
    api, key, _ = world
    r = api.call("GET", "/v1/tenants", key=key, query={"sort": "usage:api_calls", "cursor": CRAFTED[name]})
    assert r.status == 422, r.body
    assert [e["field"] for e in r.problem["errors"]] == ["cursor"]
