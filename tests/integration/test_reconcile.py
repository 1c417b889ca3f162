"""The daily reconciliation on moto, end to end: events counted by the real consumer path, a
consume, activity marked through the recorder, then the aggregator function's reconcile job (as
the schedule fires it) recounts the day. A counter made to drift on purpose (UpdateItem ADD v 5)
reaches an SQS queue subscribed to the alerts topic as ``system.counter_drift`` with both values;
a day that adds up publishes nothing."""

from __future__ import annotations

import inspect
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT, FakeContext, new_root
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.meters import Aggregation
from tollgate.services.ingest import IngestService
from tollgate.services.ports import SendReport

RUN = "2026-11-21T00:15:00Z"  # what the schedule passes as <aws.scheduler.scheduled-time>
DAY_KEY = "2026-11-19T23:00:00Z"  # Paris's 20 November starts at 23:00 UTC on the 19th


class Capture:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies):
        self.bodies += bodies
        return SendReport(sent=list(range(len(bodies))), calls=1, billed=1)


@pytest.fixture
def now(fresh_aws, monkeypatch) -> list[datetime]:
    from tollgate.services import clock

    at = [datetime(2026, 11, 20, 12, tzinfo=UTC)]
    monkeypatch.setattr(clock, "now", lambda: at[0])
    return at


@pytest.fixture
def alerts(fresh_aws) -> Any:
    """An SQS queue subscribed to the template's alerts topic; a function reading what arrived."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="drift-watch")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=os.environ["ALERTS_TOPIC_ARN"], Protocol="sqs", Endpoint=arn)

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]

    yield received
    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def day(now) -> Any:
    """A Paris tenant's 20 November: count events (one the day before, one the day after),
    sum events and a consume, each marking its pair active as the evaluator will."""
    root = new_root()
    root.tenants.create_tenant({"id": "acme", "name": "Acme", "timezone": "Europe/Paris"})
    root.meters.create_meter({"key": "calls", "name": "Calls", "aggregation": Aggregation.COUNT})
    root.meters.create_meter({"key": "gb", "name": "GB", "aggregation": Aggregation.SUM})
    assert root.consume.consume("acme", "gb", Decimal("2.5"), "consumed-1").status == 200
    root.activity_recorder.record([("acme", "gb")])
    now[0] = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
    events = [
        {"id": "before", "type": "calls", "time": "2026-11-19T22:59:59Z"},
        {"id": "first", "type": "calls", "time": "2026-11-19T23:00:00Z"},
        {"id": "last", "type": "calls", "time": "2026-11-20T22:59:59Z"},
        {"id": "after", "type": "calls", "time": "2026-11-20T23:00:00Z"},
        {"id": "g1", "type": "gb", "time": "2026-11-20T10:00:00Z", "data": {"value": "1.25"}},
    ]
    queue = Capture()
    IngestService(root.catalog, queue, root.clock).ingest(
        Principal("key_admin", Scope.ADMIN), [{"subject": "acme", **e} for e in events]
    )
    consumer = new_root()  # the consumer's own environment
    assert not consumer.count_usage.count_messages([(f"m{i}", b) for i, b in enumerate(queue.bodies)]).failed
    root.activity_recorder.record([("acme", "calls"), ("acme", "gb")])
    now[0] = datetime(2026, 11, 21, 0, 16, tzinfo=UTC)  # the schedule fired a minute ago
    return root


def job() -> Any:
    """The aggregator function as the schedule invokes it (its own environment)."""
    from tollgate_dev.local.template import Template, import_handler

    handler = import_handler(Template.load(ROOT / "template.yaml").functions()["AggregatorFunction"], fresh=True)
    inspect.unwrap(handler).__globals__["root"].reconcile._pause_s = 0  # no wait between measurements

    def run(as_of: str = RUN) -> dict[str, Any]:
        return handler({"job": "reconcile", "as_of": as_of}, FakeContext())

    return run


def drift_on_purpose(meter: str, amount: int) -> None:
    boto3.client("dynamodb").update_item(
        TableName=os.environ["COUNTERS_TABLE"],
        Key={"pk": {"S": f"T#acme#{meter}#day"}, "sk": {"S": DAY_KEY}},
        UpdateExpression="ADD v :n",
        ExpressionAttributeValues={":n": {"N": str(amount)}},
    )


def test_a_day_that_adds_up_publishes_nothing(day, alerts):
    summary = job()()
    assert (summary["pairs"], summary["matched"], summary["drifts"], summary["published"]) == (2, 2, 0, 0)
    assert alerts() == []


def test_a_counter_made_to_drift_is_published_with_both_values(day, alerts):
    drift_on_purpose("gb", 5)
    run = job()
    summary = run()
    assert (summary["matched"], summary["drifts"], summary["published"]) == (1, 1, 1)
    (doc,) = alerts()
    assert (doc["type"], doc["severity"]) == ("system.counter_drift", "critical")
    assert (doc["tenant_id"], doc["meter"], doc["window"]) == ("acme", "gb", "day")
    assert (doc["counted"], doc["recounted"], doc["difference"], doc["consumed"]) == (8.75, 3.75, 5, 2.5)
    assert (doc["window_start"], doc["window_end"]) == ("2026-11-20T00:00:00+01:00", "2026-11-21T00:00:00+01:00")

    # The scheduler's retry, or an operator's rerun: the same drift, stored and published once.
    assert run()["published"] == 0 and alerts() == []
    feed = new_root().alert_store.list(None, unread=None, type_="system.counter_drift", limit=10, cursor=None)
    assert [n["id"] for n in feed.items] == [doc["id"]]


def test_the_consume_marker_is_the_consume_record(day):
    root = new_root()
    assert root.day_sources.consumed("acme", "gb", DAY_KEY) == Decimal("2.5")
    assert root.day_sources.consumed("acme", "calls", DAY_KEY) == 0
    assert root.day_sources.counted("acme", ["calls", "gb", "none"], DAY_KEY) == {
        "calls": 2,
        "gb": Decimal("3.75"),
        "none": 0,
    }
    logged = root.day_sources.logged(
        "acme", datetime(2026, 11, 19, 23, tzinfo=UTC), datetime(2026, 11, 20, 23, tzinfo=UTC)
    )
    assert sorted(e["id"] for e in logged) == ["first", "g1", "last"]


def test_the_health_job_stays_the_default(day):
    from tollgate_dev.local.template import Template, import_handler

    handler = import_handler(Template.load(ROOT / "template.yaml").functions()["AggregatorFunction"], fresh=True)
    assert handler({}, FakeContext())["healthy"] is True
