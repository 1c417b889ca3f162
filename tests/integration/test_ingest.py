"""POST /v1/events through the real ingest handler (functions/ingest/app.py, loaded from
template.yaml) with API Gateway v2 events, on moto; the queue is read back and decoded."""

from __future__ import annotations

import base64
import copy
import inspect
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.conversion import to_binary as v1_to_binary
from cloudevents.v1.conversion import to_structured as v1_to_structured
from cloudevents.v1.http import CloudEvent as V1CloudEvent

from tests.conftest import ROOT, FakeContext, http_event, load_event, new_root
from tests.integration.conftest import Reply
from tollgate.adapters import queue as queue_adapter
from tollgate.adapters.queue import MAX_BATCH_BYTES
from tollgate.domain.keys import Scope
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.services import clock, ingest
from tollgate.wire.usage_message import MAX_MESSAGE_BYTES, decode

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
T0 = "2026-11-20T09:00:00Z"
API_CALLS = MeterSpec("api_calls", Aggregation.SUM, "value", ("region",))


class Recorder:
    """Wraps the real SQS client: records every SendMessageBatch, and can refuse entries
    (``refuse(body) -> bool``) or raise, for the given number of attempts (None: forever)."""

    def __init__(self, real: Any, refuse=None, refuse_attempts: int | None = None, raise_attempts: int = 0):
        self.real = real
        self.refuse = refuse
        self.refuse_attempts = refuse_attempts
        self.raise_attempts = raise_attempts
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append([e["MessageBody"] for e in Entries])
        attempt = len(self.calls)
        if attempt <= self.raise_attempts:
            raise ConnectionError("simulated timeout")
        refusing = self.refuse is not None and (self.refuse_attempts is None or attempt <= self.refuse_attempts)
        refused = [e for e in Entries if refusing and self.refuse(e["MessageBody"])]
        passed = [e for e in Entries if e not in refused]
        response: dict[str, Any] = {"Successful": [], "Failed": []}
        if passed:
            response = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=passed)
            response.setdefault("Failed", [])
        response["Failed"] = list(response["Failed"]) + [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "simulated"} for e in refused
        ]
        return response


class World:
    def __init__(self, handler, context, keys: dict[str, dict[str, str]], secrets: dict[str, str]):
        self.handler = handler
        self.root = inspect.unwrap(handler).__globals__["root"]  # the ingest environment's composition root
        self.context = context
        self.keys = keys
        self.secrets = secrets
        self.queue_url = os.environ["USAGE_QUEUE_URL"]
        self.pack_queue_url = os.environ["PACK_QUEUE_URL"]  # small messages wait there to be folded
        self.sqs = boto3.client("sqs")
        self.sleeps: list[float] = []

    def post(
        self,
        body: Any = None,
        *,
        key: str | None = "admin",
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        if content_type is not None:
            headers["content-type"] = content_type
        authorizer = self.keys[key] if key else {"error": "missing"}
        event = http_event("POST", "/v1/events", body=body, headers=headers, authorizer=authorizer)
        return self.send(event)

    def send(self, event: dict[str, Any]) -> Reply:
        raw = self.handler(event, self.context)
        text = raw.get("body") or ""
        return Reply(raw["statusCode"], raw.get("headers") or {}, json.loads(text) if text else None)

    def drain(self, *queue_urls: str) -> list[UsageMessage]:
        """The messages ingest sent, to either queue (by default)."""
        out = []
        for url in queue_urls or (self.queue_url, self.pack_queue_url):
            while got := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600):
                if not got.get("Messages"):
                    break
                out += [decode(m["Body"]) for m in got["Messages"]]
        return out

    def queued_ids(self) -> list[tuple[str, str]]:
        return sorted((m.tenant, e.id) for m in self.drain() for e in m.events)

    def use_client(self, recorder: Recorder) -> Recorder:
        # The environment's own queue adapter, on the recording client (the root lives for this test only).
        for q in (self.root.usage_queue, self.root.pack_queue):
            q.client, q.sleep = recorder, self.sleeps.append
        return recorder

    def recorder(self, **kw) -> Recorder:
        return self.use_client(Recorder(boto3.client("sqs"), **kw))


@pytest.fixture
def world(aws, monkeypatch, lambda_context) -> World:
    from tollgate_dev.local.template import Template, import_handler

    monkeypatch.setattr(clock, "now", lambda: NOW)
    admin = new_root()  # the admin API's environment
    admin.tenants.create_tenant({"id": "acme", "name": "Acme", "timezone": "Europe/Paris"})
    admin.tenants.create_tenant({"id": "other", "name": "Other", "timezone": "America/New_York"})
    admin.meters.create_meter(
        {"key": "api_calls", "name": "API calls", "aggregation": Aggregation.SUM, "group_by": ["region"]}
    )
    admin.meters.create_meter({"key": "requests", "name": "Requests", "aggregation": Aggregation.COUNT})
    admin.meters.create_meter(
        {"key": "users", "name": "Users", "aggregation": Aggregation.UNIQUE_COUNT, "value_property": "user"}
    )
    records = {
        "admin": admin.keys.create_key(Scope.ADMIN),
        "ingest": admin.keys.create_key(Scope.INGEST),
        "tenant": admin.keys.create_key(Scope.TENANT, tenant_id="acme"),
    }
    # A fresh import of the ingest function: its own execution environment and composition root.
    handler = import_handler(Template.load(ROOT / "template.yaml").functions()["IngestFunction"], fresh=True)
    return World(
        handler,
        lambda_context,
        {k: r.principal().as_context() for k, (r, _) in records.items()},
        {k: secret for k, (_, secret) in records.items()},
    )


def ev(i: int | str = 1, **fields) -> dict[str, Any]:
    base = {"id": f"e{i}", "type": "api_calls", "subject": "acme", "time": T0, "data": {"value": 2, "region": "eu"}}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


# ------------------------------------------------------------------ accepted events reach SQS, exactly
def test_json_array_is_queued_as_one_message_per_tenant(world):
    r = world.post(
        [ev(1), ev(2, time="2026-11-20T10:30:00+01:00", data={"value": "1.25"}), ev(3, type="requests", data=...)]
    )
    assert r.status == 202, r.body
    assert r.body == {"accepted": 3, "duplicates": 0, "rejected": []}
    [msg] = world.drain()
    assert msg.tenant == "acme" and msg.timezone == "Europe/Paris"
    assert msg.meters == {"api_calls": API_CALLS, "requests": MeterSpec("requests", Aggregation.COUNT)}
    assert msg.events == [
        UsageEvent(
            "e1", "api_calls", "2026-11-20T09:00:00.000000Z", "2", {"region": "eu"}, {"value": 2, "region": "eu"}
        ),
        UsageEvent("e2", "api_calls", "2026-11-20T09:30:00.000000Z", "1.25", {}, {"value": "1.25"}),
        UsageEvent("e3", "requests", "2026-11-20T09:00:00.000000Z", "1"),
    ]


def test_single_object_and_default_time(world):
    r = world.post(ev(1, time=...))
    assert r.status == 202 and r.body["accepted"] == 1
    [msg] = world.drain()
    assert msg.events[0].time == "2026-11-20T10:00:00.000000Z"


def test_valid_events_are_accepted_when_others_are_not(world):
    r = world.post([ev(1), ev(2, time="2026-11-20T10:00:00"), ev(3, type="ghost"), ev(4, subject="ghost"), ev(5)])
    assert r.status == 202
    assert r.body["accepted"] == 2 and r.body["duplicates"] == 0
    assert all(x["retryable"] is False for x in r.body["rejected"])
    assert [(x["index"], x["id"], [e["field"] for e in x["errors"]]) for x in r.body["rejected"]] == [
        (1, "e2", ["[1].time"]),
        (2, "e3", ["[2].type"]),
        (3, "e4", ["[3].subject"]),
    ]
    assert world.queued_ids() == [("acme", "e1"), ("acme", "e5")]


def test_events_are_grouped_by_tenant_with_each_tenants_zone(world):
    r = world.post([ev(1), ev(2, subject="other"), ev(3), ev(4, subject="other", type="users", data={"user": "u1"})])
    assert r.status == 202 and r.body["accepted"] == 4
    messages = {m.tenant: m for m in world.drain()}
    assert set(messages) == {"acme", "other"}
    assert messages["other"].timezone == "America/New_York"
    assert [e.id for e in messages["acme"].events] == ["e1", "e3"]
    assert [e.id for e in messages["other"].events] == ["e2", "e4"]
    assert set(messages["other"].meters) == {"api_calls", "users"} and set(messages["acme"].meters) == {"api_calls"}


def test_duplicate_ids_in_a_request_are_counted_and_sent_once(world):
    r = world.post([ev(1), ev(1), ev(2), ev(1, data={"value": 99, "region": "us"}), ev(1, subject="other")])
    assert r.status == 202
    assert r.body == {"accepted": 3, "duplicates": 2, "rejected": []}
    queued = [(m.tenant, e.id, e.value) for m in world.drain() for e in m.events]
    assert sorted(queued) == [("acme", "e1", "2"), ("acme", "e2", "2"), ("other", "e1", "2")]  # the first one wins


def test_tenant_key_sends_for_its_own_tenant_only(world):
    r = world.post(
        [ev(1, subject=...), ev(2, subject="acme"), ev(3, subject="other"), ev(4, subject="ghost")], key="tenant"
    )
    assert r.status == 202 and r.body["accepted"] == 2
    messages = {x["index"]: x["errors"][0]["message"] for x in r.body["rejected"]}
    assert messages == {2: "tenant 'other' not found", 3: "tenant 'ghost' not found"}  # nothing leaks
    assert world.queued_ids() == [("acme", "e1"), ("acme", "e2")]


def test_ingest_key_must_name_the_tenant(world):
    r = world.post([ev(1), ev(2, subject=...)], key="ingest")
    assert r.status == 202 and r.body["rejected"][0]["errors"][0]["field"] == "[1].subject"
    assert world.queued_ids() == [("acme", "e1")]


def test_base64_encoded_body(world):
    event = http_event(
        "POST", "/v1/events", headers={"content-type": "application/json"}, authorizer=world.keys["admin"]
    )
    event["body"] = base64.b64encode(json.dumps(ev(1)).encode()).decode()
    event["isBase64Encoded"] = True
    assert world.send(event).status == 202
    assert world.queued_ids() == [("acme", "e1")]


# ------------------------------------------------------------------ the CloudEvents SDK as a client
def _ce(i: int, **attributes) -> CloudEvent:
    base = {
        "type": "api_calls",
        "source": "/checkout",
        "subject": "acme",
        "id": f"ce{i}",
        "time": NOW - timedelta(minutes=i),
    }
    return CloudEvent(attributes={**base, **attributes}, data={"value": i, "region": "us"})


def test_cloudevents_structured_mode(world):
    msg = to_structured_event(_ce(1, partitionkey="p1"))
    r = world.post(msg.body.decode(), headers=msg.headers)
    assert r.status == 202 and r.body["accepted"] == 1, r.body
    [queued] = world.drain()
    assert queued.events == [
        UsageEvent(
            "ce1",
            "api_calls",
            "2026-11-20T09:59:00.000000Z",
            "1",
            {"region": "us"},
            {"value": 1, "region": "us"},
            source="/checkout",
        )
    ]


def test_cloudevents_batch_mode(world):
    body = "[" + ",".join(to_structured_event(_ce(i)).body.decode() for i in range(1, 6)) + "]"
    r = world.post(body, content_type="application/cloudevents-batch+json")
    assert r.status == 202 and r.body["accepted"] == 5
    assert world.queued_ids() == [("acme", f"ce{i}") for i in range(1, 6)]


def test_cloudevents_binary_mode(world):
    msg = to_binary_event(_ce(7, datacontenttype="application/json", source="/check out"))
    assert "ce-id" in msg.headers and msg.headers["content-type"] == "application/json"
    r = world.post(msg.body.decode(), headers=msg.headers)
    assert r.status == 202 and r.body["accepted"] == 1, r.body
    [queued] = world.drain()
    assert queued.events[0].source == "/check out" and queued.events[0].dims == {"region": "us"}


def test_cloudevents_binary_mode_without_datacontenttype(world):
    # The SDK then sends no Content-Type at all; the data is still JSON.
    msg = to_binary_event(_ce(8))
    assert "content-type" not in msg.headers
    event = http_event("POST", "/v1/events", headers=msg.headers, authorizer=world.keys["admin"])
    event["body"] = msg.body.decode()
    r = world.send(event)
    assert r.status == 202 and r.body["accepted"] == 1, r.body
    assert world.queued_ids() == [("acme", "ce8")]


def test_cloudevents_v1_sdk_api(world):
    event = V1CloudEvent(
        {
            "type": "api_calls",
            "source": "/v1sdk",
            "subject": "acme",
            "id": "old1",
            "time": "2026-11-20T09:30:00+00:00",
            "datacontenttype": "application/json",
        },
        {"value": 4},
    )
    headers, body = v1_to_structured(event)
    assert world.post(body.decode(), headers=headers).status == 202
    event["id"] = "old2"
    headers, body = v1_to_binary(event)
    assert world.post(body.decode(), headers=headers).status == 202
    assert world.queued_ids() == [("acme", "old1"), ("acme", "old2")]


def test_stored_binary_mode_event(world):
    event = copy.deepcopy(load_event("ingest_cloudevents_binary.json"))
    event["requestContext"]["authorizer"]["lambda"] = world.keys["ingest"]
    r = world.send(event)
    assert r.status == 202 and r.body == {"accepted": 1, "duplicates": 0, "rejected": []}
    [msg] = world.drain()
    assert msg.events == [
        UsageEvent(
            "evt-7f3a9c2e",
            "api_calls",
            "2026-11-20T09:58:00.000000Z",
            "1.5",
            {"region": "eu-west"},
            {"value": 1.5, "region": "eu-west"},
            source="/billing service",
        )
    ]


# ------------------------------------------------------------------ packing
def test_many_small_events_take_one_sqs_request(world):
    recorder = world.recorder()
    r = world.post([ev(i, data={"value": i % 5, "region": "eu"}) for i in range(1000)])
    assert r.status == 202 and r.body["accepted"] == 1000
    assert len(recorder.calls) == 1 and len(recorder.calls[0]) == 1  # 0.001 SQS requests per event
    [msg] = world.drain()
    assert [e.id for e in msg.events] == [f"e{i}" for i in range(1000)]


def test_large_requests_are_split_into_messages_and_batches_within_sqs_limits(world):
    recorder = world.recorder()
    pad = "x" * 900
    events = [
        ev(i, subject="acme" if i % 4 else "other", data={"value": 1, "region": "eu", "note": pad}) for i in range(1000)
    ]
    body = json.dumps(events)
    assert 900_000 < len(body) < 1024 * 1024
    r = world.post(body)
    assert r.status == 202 and r.body["accepted"] == 1000
    sizes = [len(b) for call in recorder.calls for b in call]
    assert len(sizes) > 4 and max(sizes) <= MAX_MESSAGE_BYTES  # split, each within 240 KiB
    assert all(sum(len(b) for b in call) <= MAX_BATCH_BYTES and len(call) <= 10 for call in recorder.calls)
    messages = world.drain()
    assert len(messages) == len(sizes)
    assert sorted((m.tenant, e.id) for m in messages for e in m.events) == sorted(
        ("acme" if i % 4 else "other", f"e{i}") for i in range(1000)
    )
    assert all(m.events and len({e.id for e in m.events}) == len(m.events) for m in messages)


# ------------------------------------------------------------------ durability: never a 2xx for an event not in SQS
def test_refused_entries_are_retried(world):
    recorder = world.recorder(refuse=lambda body: '"tenant":"other"' in body, refuse_attempts=1)
    r = world.post([ev(1), ev(2, subject="other")])
    assert r.status == 202 and r.body == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert len(recorder.calls) == 2 and len(recorder.calls[1]) == 1  # only the refused entry again
    assert world.sleeps == [queue_adapter.BACKOFF_SECONDS[0]]
    assert world.queued_ids() == [("acme", "e1"), ("other", "e2")]


def test_a_failing_call_is_retried(world):
    recorder = world.recorder(raise_attempts=2)
    r = world.post([ev(1), ev(2)])
    assert r.status == 202 and r.body["accepted"] == 2
    assert len(recorder.calls) == 3 and world.sleeps == list(queue_adapter.BACKOFF_SECONDS)
    assert world.queued_ids() == [("acme", "e1"), ("acme", "e2")]


def test_persistently_refused_events_are_reported_rejected_not_accepted(world):
    recorder = world.recorder(refuse=lambda body: '"tenant":"other"' in body)
    r = world.post([ev(1), ev(2, subject="other"), ev(3, time="bad"), ev(4, subject="other")])
    assert r.status == 202
    assert r.body["accepted"] == 1
    rejected = {x["index"]: x for x in r.body["rejected"]}
    assert sorted(rejected) == [1, 2, 3]
    assert rejected[1]["id"] == "e2" and "send this event again" in rejected[1]["errors"][0]["message"]
    assert rejected[1]["errors"][0]["field"] == "[1]"
    assert {i: x["retryable"] for i, x in rejected.items()} == {1: True, 2: False, 3: True}
    assert len(recorder.calls) == queue_adapter.ATTEMPTS
    assert world.queued_ids() == [("acme", "e1")]


def test_nothing_queued_is_a_503_with_retry_after(world):
    world.recorder(refuse=lambda body: True)
    r = world.post([ev(1), ev(2, time="bad")])
    assert r.status == 503
    assert r.headers["Retry-After"] == str(ingest.RETRY_AFTER_SECONDS)
    assert r.problem["type"] == "/problems/service-unavailable"
    assert {e["field"] for e in r.problem["errors"]} == {"[0]", "[1].time"}
    assert world.drain() == []


# ------------------------------------------------------------------ lookups and caching
def test_one_lookup_per_distinct_tenant_and_meter_and_misses_are_not_cached(world, monkeypatch):
    from tollgate.services.catalog import Catalog

    calls: list[tuple[str, str]] = []
    root = world.root

    class Counting:
        def __init__(self, kind: str, repo: Any) -> None:
            self.kind, self.repo = kind, repo

        def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
            calls.append((self.kind, key))
            return self.repo.get(key, *args, **kwargs)

    # The ingest environment's one config cache, over repositories that count their reads.
    catalog = Catalog(
        Counting("tenant", root.tenant_repo), Counting("meter", root.meter_repo), root.plan_repo, root.overrides_repo
    )
    monkeypatch.setattr(root.ingest, "_catalog", catalog)
    body = [ev(i, subject=["acme", "other", "ghost"][i % 3], type=["api_calls", "nope"][i % 2]) for i in range(300)]
    assert world.post(body).status == 202
    assert sorted(calls) == [
        ("meter", "api_calls"),
        ("meter", "nope"),
        ("tenant", "acme"),
        ("tenant", "ghost"),
        ("tenant", "other"),
    ]
    calls.clear()
    assert world.post(body).status == 202
    assert sorted(calls) == [("meter", "nope"), ("tenant", "ghost")]  # only the misses again


def test_a_new_meter_is_usable_at_once(world):
    assert world.post([ev(1, type="fresh")]).status == 422
    new_root().meters.create_meter({"key": "fresh", "name": "Fresh", "aggregation": Aggregation.COUNT})
    assert world.post([ev(1, type="fresh")]).status == 202


# ------------------------------------------------------------------ logs, metrics, docs
def test_logs_and_metrics_hold_counts_not_keys_tenants_or_data(world, capfd, caplog):
    caplog.set_level(logging.INFO)
    capfd.readouterr()
    event = http_event(
        "POST",
        "/v1/events",
        body=[ev("secret-id", data={"value": 3, "region": "secret-region"}), ev(2, time="bad")],
        headers={"authorization": f"Bearer {world.secrets['admin']}"},
        authorizer=world.keys["admin"],
    )
    assert world.send(event).status == 202
    # Log lines as the Powertools formatter writes them (JSON, with the correlation id).
    formatter = inspect.unwrap(world.handler).__globals__["logger"].registered_formatter
    lines = [formatter.format(record) for record in caplog.records]
    out = capfd.readouterr().out + "\n".join(lines)
    assert world.secrets["admin"] not in out and "secret-id" not in out and "secret-region" not in out
    logs = [json.loads(line) for line in lines]
    [summary] = [entry for entry in logs if entry["message"] == "events ingested"]
    assert summary["correlation_id"] == event["requestContext"]["requestId"]
    assert (summary["accepted"], summary["rejected"], summary["duplicates"]) == (1, 1, 0)
    emf = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]
    assert emf, out
    blob = emf[-1]
    assert blob["EventsAccepted"] == [1.0] and blob["EventsRejected"] == [1.0] and blob["EventsDuplicate"] == [0.0]
    dimensions = {d for m in blob["_aws"]["CloudWatchMetrics"] for ds in m["Dimensions"] for d in ds}
    assert "acme" not in json.dumps(blob) and not dimensions & {"tenant", "tenant_id", "subject"}


def test_openapi_documents_the_route_from_pydantic_models():
    from tollgate.api.http import create_app
    from tollgate.api.routes import ingest as ingest_routes

    app = create_app(ingest_routes.build_router(new_root().ingest))
    doc = json.loads(app.get_openapi_json_schema())
    op = doc["paths"]["/v1/events"]["post"]
    body = op["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/EventIn"} in schema["anyOf"]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/EventIn"}} in schema["anyOf"]
    event_schema = doc["components"]["schemas"]["EventIn"]
    assert set(event_schema["required"]) == {"id", "type"} and event_schema["properties"]["id"]["maxLength"] == 256
    assert op["responses"]["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IngestOut"}
    for status in ("400", "401", "403", "413", "415", "422", "503"):
        assert op["responses"][status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemOut"}}
        }


def test_docs_resolver_and_ingest_resolver_in_one_process_do_not_share_a_router(world):
    """The local stack runs every function in one process: the ingest resolver that the API
    function builds for its /openapi.json must not make the ingest route read that resolver's
    (empty) request."""
    from tollgate.api.apps import build_api_edge

    docs = build_api_edge(world.root)(http_event("GET", "/openapi.json"), FakeContext())
    assert docs["statusCode"] == 200 and '"/v1/events"' in docs["body"]
    r = world.post([ev(1)], key="tenant")
    assert r.status == 202 and r.body["accepted"] == 1
