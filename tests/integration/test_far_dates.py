"""Dates at the edges of the calendar on /v1/events, /v1/usage and /v1/consume: a 422 naming the
field for an instant outside 1970-01-01T00:00:00Z .. 9998-12-31T23:59:59Z (they used to be 500s,
from datetime overflows), and an empty answer for a valid but far range. One moto world."""

from __future__ import annotations

import pytest

FAR_FUTURE = "9999-12-31T23:59:59Z"
BEYOND_9999_IN_UTC = "9999-12-31T23:59:59-01:00"
YEAR_1 = "0001-01-01T00:00:00Z"
YEAR_1_EAST = "0001-01-01T00:00:00+01:00"


@pytest.fixture(scope="module")
def world(module_api, module_admin_key):
    api, key = module_api, module_admin_key
    body = {"id": "acme", "name": "Acme", "timezone": "Pacific/Kiritimati"}  # UTC+14
    assert api.call("POST", "/v1/tenants", key=key, body=body).status == 201
    body = {"key": "api_calls", "name": "API calls", "aggregation": "sum"}
    assert api.call("POST", "/v1/meters", key=key, body=body).status == 201
    return api, key


OUT_OF_RANGE = [
    ({"from": FAR_FUTURE}, "from"),
    ({"to": FAR_FUTURE}, "to"),
    ({"to": BEYOND_9999_IN_UTC}, "to"),
    ({"from": "9998-12-31T00:00:00Z", "to": BEYOND_9999_IN_UTC}, "to"),
    ({"to": YEAR_1}, "to"),
    ({"from": YEAR_1_EAST, "to": "0001-01-02T00:00:00Z"}, "from"),
    ({"from": "1969-12-31T23:59:59Z", "to": "1970-01-02T00:00:00Z"}, "from"),
]


@pytest.mark.parametrize("query,field", OUT_OF_RANGE, ids=[str(q) for q, _ in OUT_OF_RANGE])
def test_events_listing_names_a_date_out_of_range(world, query, field):
    api, key = world
    r = api.call("GET", "/v1/events", key=key, query={"tenant": "acme", **query})
    assert r.status == 422, r.body
    assert field in [e["field"] for e in r.problem["errors"]]
    assert "1970-01-01T00:00:00Z" in r.problem["detail"]


@pytest.mark.parametrize(
    "query,field",
    [(q, f) for q, f in OUT_OF_RANGE if "from" in q and "to" in q] + [({"from": FAR_FUTURE, "to": FAR_FUTURE}, "from")],
)
@pytest.mark.parametrize("window", ["hour", "day", "month"])
def test_usage_names_a_date_out_of_range(world, query, field, window):
    api, key = world
    r = api.call("GET", "/v1/usage", key=key, query={"tenant": "acme", "meter": "api_calls", "window": window, **query})
    assert r.status == 422, r.body
    assert field in [e["field"] for e in r.problem["errors"]]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "9998-12-24T00:00:00Z", "to": "9998-12-31T23:59:59Z"},
        {"to": "9998-12-31T23:59:59.999999-00:00"},
        {"from": "1970-01-01T00:00:00Z", "to": "1970-01-08T00:00:00+14:00"},
        {"to": "1970-01-01T00:00:00Z"},
    ],
)
def test_a_valid_but_far_range_lists_no_events(world, query):
    api, key = world
    r = api.call("GET", "/v1/events", key=key, query={"tenant": "acme", **query})
    assert r.status == 200 and r.body == {"items": [], "next_cursor": None}, r.body


@pytest.mark.parametrize(
    "window,start,end",
    [
        ("hour", "9998-12-30T00:00:00Z", "9998-12-31T23:59:59Z"),
        ("day", "9998-12-01T00:00:00Z", "9998-12-31T23:59:59Z"),
        ("month", "9998-01-01T00:00:00Z", "9998-12-31T23:59:59Z"),
        ("day", "1970-01-01T00:00:00Z", "1970-01-08T00:00:00+14:00"),
        ("month", "1970-01-01T00:00:00Z", "1970-12-31T00:00:00Z"),
    ],
)
def test_a_valid_but_far_range_has_no_usage(world, window, start, end):
    api, key = world
    r = api.call(
        "GET",
        "/v1/usage",
        key=key,
        query={"tenant": "acme", "meter": "api_calls", "window": window, "from": start, "to": end},
    )
    assert r.status == 200 and r.body["total"] == 0 and r.body["series"] == [], r.body


@pytest.mark.parametrize("time", [FAR_FUTURE, BEYOND_9999_IN_UTC, YEAR_1, YEAR_1_EAST])
def test_event_and_consume_times_out_of_range_are_422(world, time):
    api, key = world
    r = api.call(
        "POST",
        "/v1/events",
        key=key,
        body={"id": "e1", "type": "api_calls", "subject": "acme", "time": time, "data": {"value": 1}},
    )
    assert r.status == 422 and [e["field"] for e in r.problem["errors"]] == ["[0].time"], r.body
    r = api.call(
        "POST", "/v1/consume", key=key, body={"id": "c1", "tenant": "acme", "meter": "api_calls", "time": time}
    )
    assert r.status == 422 and [e["field"] for e in r.problem["errors"]] == ["time"], r.body
