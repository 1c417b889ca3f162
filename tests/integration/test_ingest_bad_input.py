"""Bad input to POST /v1/events, table-driven, through the real handler on moto.

Each case gets its documented status with a problem+json body naming the field (or a 202 with
the event in ``rejected``), and nothing from a rejected event reaches the queue."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import http_event, new_root
from tests.integration.test_ingest import (
    NOW,
    World,
    ev,
    world,  # noqa: F401 - the fixture, used by name
)

BAD = "bad-event"  # the id of every bad event: it must never be queued


@dataclass
class Case:
    name: str
    body: Any = None  # a JSON value (dumped), or str/bytes sent as is
    status: int = 422
    field: str | None = None  # expected in the problem's errors (or in the rejected event's errors)
    says: str | None = None  # expected in that error's message
    key: str | None = "admin"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str | None = "application/json"
    slug: str | None = None


def bad(**fields) -> dict[str, Any]:
    return ev(**{"id": BAD, **fields})


def time_at(**delta) -> str:
    from datetime import timedelta

    return (NOW + timedelta(**delta)).isoformat()


CASES = [
    # ---------------------------------------------------------------- per-event field errors (422)
    Case("id is a number", [bad(id=42)], field="[0].id", says="string"),
    Case("id of 257 characters", [bad(id="x" * 257)], field="[0].id", says="1 to 256"),
    Case("empty id", [bad(id="")], field="[0].id"),
    Case("missing id", [bad(id=...)], field="[0].id", says="required"),
    Case("type is a list", [bad(type=["api_calls"])], field="[0].type"),
    Case("unknown meter", [bad(type="nope")], field="[0].type", says="meter 'nope' not found"),
    Case("huge meter key", [bad(type="m" * 100_000)], field="[0].type"),
    Case("unknown tenant", [bad(subject="ghost")], field="[0].subject", says="tenant 'ghost' not found"),
    Case(
        "tenant key naming another tenant",
        [bad(subject="other")],
        key="tenant",
        field="[0].subject",
        says="tenant 'other' not found",
    ),
    Case("admin key without subject", [bad(subject=...)], field="[0].subject", says="required"),
    Case("subject is a number", [bad(subject=7)], field="[0].subject"),
    Case("value 'NaN' string", [bad(data={"value": "NaN"})], field="[0].data.value", says="plain decimal"),
    Case("value 'Infinity' string", [bad(data={"value": "Infinity"})], field="[0].data.value", says="plain decimal"),
    Case("value '-Infinity' string", [bad(data={"value": "-Infinity"})], field="[0].data.value", says="plain decimal"),
    Case(
        "value 1e999 overflows to infinity",
        '[{"id": "bad-event", "type": "api_calls", "subject": "acme", "data": {"value": 1e999}}]',
        field="[0].data.value",
        says="finite",
    ),
    Case(
        "1e999 in another data field",
        '[{"id": "bad-event", "type": "api_calls", "subject": "acme", "data": {"value": 1, "extra": -1e999}}]',
        field="[0].data",
        says="finite",
    ),
    Case("value is a boolean", [bad(data={"value": True})], field="[0].data.value", says="number"),
    Case("value is text", [bad(data={"value": "lots"})], field="[0].data.value", says="number"),
    Case("value missing on a sum meter", [bad(data={"region": "eu"})], field="[0].data.value", says="required"),
    Case("negative value on a sum meter", [bad(data={"value": -3})], field="[0].data.value", says="negative"),
    Case("value beyond 1e30", [bad(data={"value": "1e31"})], field="[0].data.value", says="magnitude"),
    Case("dimension is an object", [bad(data={"value": 1, "region": {"x": 1}})], field="[0].data.region"),
    Case("data is a list", [bad(data=[1, 2])], field="[0].data", says="object"),
    Case("data is a string", [bad(data="value=1")], field="[0].data", says="object"),
    Case("event of 40 KB", [bad(data={"value": 1, "blob": "b" * 40_000})], field="[0].data", says="limit"),
    Case("naive time", [bad(time="2026-11-20T10:00:00")], field="[0].time", says="no UTC offset"),
    Case("offset +25:00", [bad(time="2026-11-20T10:00:00+25:00")], field="[0].time", says="-23:59"),
    Case("offset without colon", [bad(time="2026-11-20T10:00:00+0100")], field="[0].time", says="RFC 3339"),
    Case("time zone name instead of offset", [bad(time="2026-11-20T10:00:00 Europe/Paris")], field="[0].time"),
    Case("unparseable time", [bad(time="yesterday")], field="[0].time", says="RFC 3339"),
    Case("30th of February", [bad(time="2026-02-30T10:00:00Z")], field="[0].time"),
    Case("time as epoch number", [bad(time=1795168800)], field="[0].time", says="string"),
    Case("too old", [bad(time=time_at(days=-35, seconds=-1))], field="[0].time", says="35 days"),
    Case("too far in the future", [bad(time=time_at(minutes=5, seconds=1))], field="[0].time", says="5 minutes"),
    Case("bad specversion", [bad(specversion="0.3")], field="[0].specversion", says="1.0"),
    Case("data_base64", [bad(data_base64="AAE=")], field="[0].data_base64"),
    Case("unknown attribute with upper case", [bad(Subject="acme")], field="[0].Subject", says="unknown"),
    Case("non-JSON datacontenttype", [bad(datacontenttype="text/plain")], field="[0].datacontenttype"),
    Case("source is a number", [bad(source=5)], field="[0].source"),
    Case("event is not an object", [[BAD]], field="[0]", says="object"),
    Case(
        "structured mode with a bad event",
        bad(time="2026-11-20T10:00:00"),
        field="[0].time",
        content_type="application/cloudevents+json",
    ),
    Case(
        "binary mode with a bad ce-time",
        {"value": 1},
        field="[0].time",
        headers={
            "ce-id": BAD,
            "ce-type": "api_calls",
            "ce-subject": "acme",
            "ce-specversion": "1.0",
            "ce-time": "2026-11-20T10:00:00",
        },
    ),
    Case(
        "binary mode with non-object data",
        [1, 2],
        field="[0].data",
        headers={"ce-id": BAD, "ce-type": "api_calls", "ce-subject": "acme", "ce-specversion": "1.0"},
    ),
    Case(
        "binary mode with a bad ce-specversion",
        {"value": 1},
        field="[0].specversion",
        headers={"ce-id": BAD, "ce-type": "api_calls", "ce-subject": "acme", "ce-specversion": "0.3"},
    ),
    # ---------------------------------------------------------------- mixed: 202, the bad one rejected
    Case("one good, one bad", [ev(id="good"), bad(time="2026-11-20T10:00:00")], status=202, field="[1].time"),
    Case("one good, one unknown tenant", [bad(subject="ghost"), ev(id="good")], status=202, field="[0].subject"),
    # ---------------------------------------------------------------- request level
    Case("1001 events", [ev(f"x{i}") for i in range(1000)] + [bad()], field="body", says="limit is 1000"),
    Case("empty array", [], field="body", says="at least one"),
    Case("a bare number", "42", field="body"),
    Case("structured mode with an array", [bad()], field="body", content_type="application/cloudevents+json"),
    Case("batch mode with one object", bad(), field="body", content_type="application/cloudevents-batch+json"),
    Case(
        "body over 1 MiB",
        [bad(data={"value": 1, "pad": "p" * (1024 * 1024)})],
        status=413,
        field="body",
        slug="payload-too-large",
    ),
    Case(
        "wrong content type",
        [bad()],
        status=415,
        content_type="text/plain",
        field="Content-Type",
        slug="unsupported-media-type",
    ),
    Case("no content type", [bad()], status=415, content_type="", field="Content-Type"),
    Case("malformed JSON", '[{"id": "bad-event",', status=400, field="body", slug="malformed-request"),
    Case(
        "NaN literal",
        '[{"id": "bad-event", "type": "api_calls", "subject": "acme", "data": {"value": NaN}}]',
        status=400,
        field="body",
        says="NaN",
    ),
    Case(
        "Infinity literal",
        '{"id": "bad-event", "type": "api_calls", "subject": "acme", "data": {"value": Infinity}}',
        status=400,
        field="body",
        says="Infinity",
    ),
    Case("JSON nested 100,000 deep", "[" * 100_000 + "]" * 100_000, status=400, field="body", says="nested"),
    Case("invalid UTF-8", b'[{"id": "bad-event\xff"}]', status=400, field="body"),
    Case("empty body", "", status=400, field="body"),
    Case(
        "binary mode with malformed data",
        "{oops",
        status=400,
        field="body",
        headers={"ce-id": BAD, "ce-type": "api_calls", "ce-subject": "acme", "ce-specversion": "1.0"},
    ),
    Case("no key", [bad()], status=401, key=None, slug="unauthenticated"),
    Case("revoked key", [bad()], status=401, key="revoked", slug="unauthenticated"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(world: World, case: Case):
    if case.key == "revoked":
        from tollgate.domain.keys import Scope

        keys = new_root().keys
        record, _ = keys.create_key(Scope.INGEST)
        keys.revoke_key(record.id)
        world.keys["revoked"] = record.principal().as_context()

    headers = dict(case.headers)
    if case.content_type is not None:
        headers["content-type"] = case.content_type
    authorizer = world.keys[case.key] if case.key else {"error": "missing"}
    event = http_event("POST", "/v1/events", headers=headers, authorizer=authorizer)
    if isinstance(case.body, bytes):
        import base64

        event["body"], event["isBase64Encoded"] = base64.b64encode(case.body).decode(), True
    else:
        event["body"] = case.body if isinstance(case.body, str) else json.dumps(case.body)
    if case.content_type == "":
        event["headers"].pop("content-type", None)

    r = world.send(event)

    assert r.status == case.status, r.body
    if case.status == 202:
        errors = [e for x in r.body["rejected"] for e in x["errors"]]
        assert all(x["id"] in (BAD, None) for x in r.body["rejected"])
        assert r.body["accepted"] == 1
    else:
        problem = r.problem
        assert problem["status"] == case.status and problem["type"].startswith("/problems/")
        assert problem["title"] and problem["detail"]
        if case.slug:
            assert problem["type"] == f"/problems/{case.slug}"
        errors = problem["errors"]
    if case.field:
        matching = [e for e in errors if e["field"] == case.field]
        assert matching, errors
        if case.says:
            assert any(case.says in e["message"] for e in matching), matching
    queued = world.queued_ids()
    assert all(event_id != BAD for _, event_id in queued)
    assert queued == ([("acme", "good")] if case.status == 202 else [])


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20 and len({c.name for c in CASES}) == len(CASES)
