"""GET /v1/events/rejected: the consumer's quarantine, listed to admins (moto, in-process)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import FakeContext, new_root
from tests.integration.test_consumer import METERS, T0, body, e, sqs_event
from tollgate.domain.keys import Scope
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent


@pytest.fixture
def quarantined(api, admin_key):
    for tenant in ("acme", "other"):
        assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": tenant, "name": tenant}).status == 201
    events = [
        UsageEvent(
            id=f"q{i}", meter="calls", time=format_time(T0 + timedelta(seconds=i)), value="1", data={"note": "\udfff"}
        )
        for i in range(3)
    ]
    batch = sqs_event([("m1", body("acme", [*events, e("fine", "calls", "1")], METERS))])
    assert api.handler_for("ConsumerFunction")(batch, FakeContext()) == {"batchItemFailures": []}
    return events


def test_admins_page_through_a_tenants_quarantine_newest_first(api, admin_key, quarantined):
    first = api.call("GET", "/v1/events/rejected", key=admin_key, query={"tenant": "acme", "limit": "2"})
    assert first.status == 200, first.body
    assert [i["id"] for i in first.body["items"]] == ["q2", "q1"]
    assert "surrogate" in first.body["items"][0]["reason"]
    assert first.body["items"][0]["event"]["data"] == {"note": "\ufffd"}
    rest = api.call(
        "GET", "/v1/events/rejected", key=admin_key, query={"tenant": "acme", "cursor": first.body["next_cursor"]}
    )
    assert [i["id"] for i in rest.body["items"]] == ["q0"] and rest.body["next_cursor"] is None
    other = api.call("GET", "/v1/events/rejected", key=admin_key, query={"tenant": "other"})
    assert other.status == 200 and other.body["items"] == []


def test_an_event_too_deep_to_show_is_listed_without_its_data(api, admin_key, quarantined):
    deep: dict = {}
    for _ in range(600):
        deep = {"x": deep}
    event = UsageEvent(
        id="deep",
        meter="calls",
        time=format_time(T0 + timedelta(seconds=9)),
        value="1",
        data={"note": "\udfff", "deep": deep},
    )
    batch = sqs_event([("m2", body("acme", [event], METERS))])
    assert api.handler_for("ConsumerFunction")(batch, FakeContext()) == {"batchItemFailures": []}
    listed = api.call("GET", "/v1/events/rejected", key=admin_key, query={"tenant": "acme", "limit": "1"})
    assert listed.status == 200, listed.body
    [item] = listed.body["items"]
    assert item["id"] == "deep" and item["event"]["data"] is None and "deep" in item["event"]["dataomitted"]


def test_errors(api, admin_key, quarantined):
    tenant_key = new_root().keys.create_key(Scope.TENANT, tenant_id="acme")[1]
    assert api.call("GET", "/v1/events/rejected", key=tenant_key, query={"tenant": "acme"}).status == 403
    assert api.call("GET", "/v1/events/rejected", key=admin_key, query={"tenant": "nobody"}).status == 404
    bad = api.call("GET", "/v1/events/rejected", key=admin_key, query={"tenant": "acme", "cursor": "eyJpZCI6IngifQ"})
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "cursor"
    missing = api.call("GET", "/v1/events/rejected", key=admin_key)
    assert missing.status == 422 and "tenant" in str(missing.body["errors"])


def test_the_health_job_reports_the_days_quarantine(api, admin_key, quarantined):
    result = api.handler_for("AggregatorFunction")({}, FakeContext())
    assert result["quarantined_today"] == 3 and result["dead_letters"] == 0
    assert result["healthy"] is False
