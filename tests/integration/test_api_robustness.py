"""Crafted input that used to answer 500 (or a misleading 4xx), through the real authorizer and
functions routed by template.yaml: each now gets its documented problem+json."""

from __future__ import annotations

import pytest


@pytest.fixture
def acme(api, admin_key) -> str:
    assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": "acme", "name": "Acme"}).status == 201
    body = {"key": "api_calls", "name": "API calls", "aggregation": "sum"}
    assert api.call("POST", "/v1/meters", key=admin_key, body=body).status == 201
    return "acme"


# ------------------------------------------------------------------ the detail of a 422 on /v1/events
def test_one_invalid_event_says_it_is_not_valid(api, admin_key, acme):
    r = api.call(
        "POST",
        "/v1/events",
        key=admin_key,
        body={"id": "e1", "type": "api_calls", "subject": acme, "time": "yesterday"},
    )
    assert r.status == 422
    assert r.problem["detail"].startswith("the event is not valid: [0].time: "), r.problem["detail"]


def test_several_invalid_events_say_none_is_valid(api, admin_key, acme):
    bad = {"type": "api_calls", "subject": acme, "time": "yesterday"}
    r = api.call("POST", "/v1/events", key=admin_key, body=[{"id": "e1", **bad}, {"id": "e2", **bad}])
    assert r.status == 422 and r.problem["detail"].startswith("none of the 2 events is valid: [0].time")


# ------------------------------------------------------------------ what `duplicates` counts
def test_duplicates_counts_repeats_inside_one_request_only(api, admin_key, acme):
    event = {"id": "e1", "type": "api_calls", "subject": acme, "data": {"value": 1}}
    first = api.call("POST", "/v1/events", key=admin_key, body=[event, event])
    assert first.status == 202 and (first.body["accepted"], first.body["duplicates"]) == (1, 1)
    again = api.call("POST", "/v1/events", key=admin_key, body=[event])  # dropped later, by the consumer
    assert again.status == 202 and (again.body["accepted"], again.body["duplicates"]) == (1, 0)
    doc = api.call("GET", "/openapi.json").body
    described = doc["components"]["schemas"]["IngestOut"]["properties"]["duplicates"]["description"]
    assert "inside this request only" in described and "earlier request" in described
