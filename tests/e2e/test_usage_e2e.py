"""Usage in, exact numbers out - over HTTP against the running local stack.

Events go through API Gateway emulation, the authorizer, the ingest function, SQS, the
consumer's event source mapping and DynamoDB, and come back through /v1/usage."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.e2e.conftest import recent_usage

pytestmark = pytest.mark.e2e


def _admin(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_key}"}


@pytest.fixture(scope="module")
def tenant(local_stack):
    """A fresh tenant in a :45 zone, its meters, and a tenant-scoped key."""
    base, admin = local_stack.base_url, _admin(local_stack)
    tid = f"e2e-{uuid.uuid4().hex[:8]}"
    assert (
        requests.post(
            f"{base}/v1/tenants", headers=admin, json={"id": tid, "name": "E2E", "timezone": "Asia/Kathmandu"}
        ).status_code
        == 201
    )
    meters = {
        f"{tid}.calls": {"aggregation": "sum", "group_by": ["region"]},
        f"{tid}.requests": {"aggregation": "count"},
        f"{tid}.peak": {"aggregation": "max"},
        f"{tid}.seats": {"aggregation": "latest", "value_property": "seats"},
        f"{tid}.users": {"aggregation": "unique_count", "value_property": "user"},
    }
    for key, spec in meters.items():
        r = requests.post(f"{base}/v1/meters", headers=admin, json={"key": key, "name": key, **spec})
        assert r.status_code == 201, r.text
    key = requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tid}).json()["key"]
    return tid, key


def _usage(stack, tid, meter, **extra):
    return recent_usage(stack, tid, meter, days_back=3, **extra)


def _wait_for(stack, tid, meter, expected, timeout=10.0, **extra):
    deadline = time.monotonic() + timeout
    while True:
        body = _usage(stack, tid, meter, **extra)
        if body["total"] == expected or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_events_are_counted_exactly_and_read_back(local_stack, tenant):
    tid, key = tenant
    base = local_stack.base_url
    now = datetime.now(UTC)
    t = lambda minutes: (now - timedelta(minutes=minutes)).isoformat()  # noqa: E731
    events = [
        {"id": "a1", "type": f"{tid}.calls", "time": t(5), "data": {"value": 3, "region": "eu"}},
        {"id": "a2", "type": f"{tid}.calls", "time": t(4), "data": {"value": 2.5, "region": "us"}},
        {"id": "a3", "type": f"{tid}.calls", "time": t(3), "data": {"value": "4", "region": "eu"}},
        {"id": "a1", "type": f"{tid}.calls", "time": t(5), "data": {"value": 3, "region": "eu"}},  # duplicate
        {"id": "b1", "type": f"{tid}.requests", "time": t(2), "data": {}},
        {"id": "b2", "type": f"{tid}.requests", "time": t(2), "data": {}},
        {"id": "c1", "type": f"{tid}.peak", "time": t(9), "data": {"value": 7}},
        {"id": "c2", "type": f"{tid}.peak", "time": t(8), "data": {"value": 11}},
        {"id": "d1", "type": f"{tid}.seats", "time": t(1), "data": {"seats": 9}},
        {"id": "d2", "type": f"{tid}.seats", "time": t(20), "data": {"seats": 4}},  # older: not the latest
        {"id": "u1", "type": f"{tid}.users", "time": t(3), "data": {"user": "ann"}},
        {"id": "u2", "type": f"{tid}.users", "time": t(3), "data": {"user": "bob"}},
        {"id": "u3", "type": f"{tid}.users", "time": t(3), "data": {"user": "ann"}},
    ]
    r = requests.post(f"{base}/v1/events", headers={"X-Api-Key": key}, json=events)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 12 and r.json()["duplicates"] == 1 and r.json()["rejected"] == []
    # The same ids again in a later request: counted once all the same.
    assert requests.post(f"{base}/v1/events", headers={"X-Api-Key": key}, json=events[:3]).status_code == 202

    calls = _wait_for(local_stack, tid, f"{tid}.calls", 9.5)
    assert calls["total"] == 9.5 and calls["aggregation"] == "sum" and calls["timezone"] == "Asia/Kathmandu"
    assert calls["series"][0]["start"].endswith("+05:45")
    by_region = _usage(local_stack, tid, f"{tid}.calls", group_by="region")
    assert {p["group"]["region"]: p["value"] for p in by_region["series"]} == {"eu": 7, "us": 2.5}
    assert _wait_for(local_stack, tid, f"{tid}.requests", 2)["total"] == 2
    assert _wait_for(local_stack, tid, f"{tid}.peak", 11)["total"] == 11
    assert _wait_for(local_stack, tid, f"{tid}.seats", 9)["total"] == 9
    # unique_count: a range of several days has no total (distinct counts do not add); its day is exact.
    deadline = time.monotonic() + 10.0
    while True:
        users = _usage(local_stack, tid, f"{tid}.users")
        if [p["value"] for p in users["series"]] == [2] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert users["total"] is None and [p["value"] for p in users["series"]] == [2]
    day = users["series"][0]
    assert _usage(local_stack, tid, f"{tid}.users", **{"from": day["start"], "to": day["end"]})["total"] == 2

    listed = requests.get(f"{base}/v1/events", headers={"Authorization": f"Bearer {key}"}, params={"limit": 5})
    assert listed.status_code == 200
    times = [e["time"] for e in listed.json()["items"]]
    assert len(times) == 5 and times == sorted(times, reverse=True)
    assert listed.json()["next_cursor"]


def test_cloudevents_sdk_structured_batch_and_binary(local_stack, tenant):
    tid, key = tenant
    base, auth = local_stack.base_url, {"Authorization": f"Bearer {key}"}
    meter = f"{tid}.requests"
    before = _usage(local_stack, tid, meter)["total"]

    def event(i: int) -> CloudEvent:
        return CloudEvent(
            attributes={
                "id": f"ce-{i}",
                "type": meter,
                "source": "/e2e",
                "subject": tid,
                "time": datetime.now(UTC) - timedelta(seconds=i),
            },
            data={"value": 1},
        )

    structured = ce_http.to_structured_event(event(1))
    r = requests.post(f"{base}/v1/events", headers={**auth, **structured.headers}, data=structured.body)
    assert r.status_code == 202, r.text

    fmt = JSONFormat()
    batch = b"[" + b",".join(fmt.write(event(i)) for i in (2, 3, 4)) + b"]"
    r = requests.post(
        f"{base}/v1/events", data=batch, headers={**auth, "Content-Type": "application/cloudevents-batch+json"}
    )
    assert r.status_code == 202 and r.json()["accepted"] == 3, r.text

    binary = ce_http.to_binary_event(event(5))
    r = requests.post(f"{base}/v1/events", headers={**auth, **binary.headers}, data=binary.body)
    assert r.status_code == 202, r.text

    # Replaying every one of them changes nothing.
    requests.post(f"{base}/v1/events", headers={**auth, **binary.headers}, data=binary.body)
    assert _wait_for(local_stack, tid, meter, before + 5)["total"] == before + 5
    time.sleep(1.5)  # a late double count would show up here
    assert _usage(local_stack, tid, meter)["total"] == before + 5


VISIBLE_P99_S = 5.0  # issue 9's target, 202 to visible, at every request size (make bench measures it)


def test_a_one_event_request_is_visible_within_the_latency_target(local_stack, tenant):
    """A one-event request takes the longest path: pack queue, repack (a 1 s batching window),
    usage queue, consumer."""
    tid, key = tenant
    meter = f"{tid}.peak"
    r = requests.post(
        f"{local_stack.base_url}/v1/events",
        headers={"X-Api-Key": key},
        json={"id": "fast-1", "type": meter, "data": {"value": 1000}},
    )
    accepted_at = time.monotonic()
    assert r.status_code == 202
    body = _wait_for(local_stack, tid, meter, 1000, timeout=VISIBLE_P99_S)
    assert body["total"] == 1000, f"not visible {time.monotonic() - accepted_at:.2f}s after its 202"


def test_rejected_events_are_never_counted(local_stack, tenant):
    tid, key = tenant
    meter = f"{tid}.peak"
    before = _usage(local_stack, tid, meter)["total"]
    bad = [
        {"id": "x1", "type": meter, "data": {"value": 10**6}, "time": "2026-01-01T00:00:00"},  # no offset
        {"id": "x2", "type": meter, "data": {"value": "NaN"}},
        {"id": "x3", "type": meter, "subject": "someone-else", "data": {"value": 10**6}},
    ]
    r = requests.post(f"{local_stack.base_url}/v1/events", headers={"X-Api-Key": key}, json=bad)
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    assert json.loads(r.text)["errors"]
    time.sleep(1.5)
    assert _usage(local_stack, tid, meter)["total"] == before
