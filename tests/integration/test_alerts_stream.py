"""The real-time alert path on moto: the real consumer counts events, the counters table's
stream carries old and new values, the alerts function raises each crossing once, SNS
subscribers see it with their filter policies, and a redelivered stream batch raises nothing."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import FakeContext, new_root
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.periods import Window
from tollgate.domain.plans import Limit
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.wire.usage_message import encode
from tollgate_dev.local.template import Template, import_handler

from ..conftest import ROOT

THRESHOLDS = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))


class StreamReader:
    """Reads the counters table's stream from where it last stopped, like one shard iterator."""

    def __init__(self, table: str) -> None:
        # Not the account-id endpoint botocore picks for a stream ARN: moto serves the regional one.
        config = Config(account_id_endpoint_mode="disabled")
        self.client = boto3.client("dynamodbstreams", region_name="us-east-1", config=config)
        arn = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=table)["Table"][
            "LatestStreamArn"
        ]
        shard = self.client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.client.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]

    def read(self) -> list[dict[str, Any]]:
        resp = self.client.get_records(ShardIterator=self.iterator, Limit=1000)
        self.iterator = resp["NextShardIterator"]
        # What the function's FilterCriteria lets through: totals only.
        return [r for r in resp["Records"] if r["dynamodb"]["Keys"]["pk"]["S"].startswith("T#")]


@pytest.fixture
def world(aws) -> dict[str, Any]:
    root = new_root()
    root.meters.create_meter({"key": "calls", "name": "calls", "aggregation": Aggregation.COUNT})
    root.plans.put_plan(
        "pro", "Pro", [Limit("calls", Window.MONTH, Decimal(10), thresholds=THRESHOLDS)], None, actor="t", reason="t"
    )
    for tenant in ("acme", "globex"):
        root.tenants.create_tenant({"id": tenant, "name": tenant, "timezone": "Europe/Paris", "plan": "pro"}, actor="t")
    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    queues = {}
    for name, policy in (("all", None), ("acme-over", {"tenant_id": ["acme"], "type": ["billing.over_limit"]})):
        url = sqs.create_queue(QueueName=f"alerts-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attrs = {"FilterPolicy": json.dumps(policy)} if policy else {}
        sns.subscribe(TopicArn=root.settings.alerts_topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attrs)
        queues[name] = url
    handler = import_handler(Template.load(ROOT / "template.yaml").functions()["AlertsFunction"], fresh=True)
    return {
        "root": root,
        "queues": queues,
        "sqs": sqs,
        "handler": handler,
        "stream": StreamReader(root.settings.counters_table),
    }


def count(root: Any, tenant: str, n: int, start: int = 0) -> None:
    at = format_time(root.clock.now())
    message = UsageMessage(
        tenant=tenant,
        timezone="Europe/Paris",
        meters={"calls": MeterSpec("calls", Aggregation.COUNT)},
        events=[UsageEvent(id=f"{tenant}-{i}", meter="calls", time=at, value="1") for i in range(start, start + n)],
    )
    assert not root.count_usage.count_messages([(str(uuid.uuid4()), encode(message))]).failed


def received(world: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    out = []
    while True:
        msgs = world["sqs"].receive_message(QueueUrl=world["queues"][queue], MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        out += [json.loads(json.loads(m["Body"])["Message"]) for m in msgs]
        world["sqs"].delete_message_batch(
            QueueUrl=world["queues"][queue],
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
        )


def deliver(world: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    response = world["handler"]({"Records": records}, FakeContext())
    assert response == {"batchItemFailures": []}
    return response


def test_crossings_counted_by_the_consumer_are_alerted_once_each_and_filtered_per_subscriber(world):
    root = world["root"]
    batches = []
    for start, n in ((0, 4), (4, 1), (5, 3), (8, 2), (10, 1)):  # 4, 5, 8, 10, 11 calls
        count(root, "acme", n, start)
        records = world["stream"].read()
        deliver(world, records)
        batches.append(records)
    count(root, "globex", 6)
    deliver(world, world["stream"].read())
    alerts = received(world, "all")
    assert [(a["tenant_id"], a["type"], a["thresholds"], a["used"]) for a in alerts] == [
        ("acme", "usage.threshold_reached", [0.5], 5),
        ("acme", "usage.threshold_reached", [0.8], 8),
        ("acme", "usage.threshold_reached", [1], 10),
        ("acme", "billing.over_limit", [], 11),
        ("globex", "usage.threshold_reached", [0.5], 6),
    ]
    assert [a["type"] for a in received(world, "acme-over")] == ["billing.over_limit"]
    # The whole stream again (a redelivered batch, or a second evaluator): nothing new anywhere.
    for records in batches:
        deliver(world, records)
    assert received(world, "all") == []
    page = root.alert_store.list("acme", unread=None, type_=None, limit=50, cursor=None)
    assert len(page.items) == 4 and root.alert_store.unread_count("acme") == 4
    assert {a["id"] for a in alerts} == {i["id"] for i in page.items} | {
        received_id for received_id in [alerts[-1]["id"]]
    }


def test_a_jump_past_every_threshold_fires_each_once(world):
    count(world["root"], "acme", 25)
    deliver(world, world["stream"].read())
    alerts = received(world, "all")
    assert [(a["type"], a["thresholds"]) for a in alerts] == [
        ("usage.threshold_reached", [0.5]),
        ("usage.threshold_reached", [0.8]),
        ("usage.threshold_reached", [1]),
        ("billing.over_limit", []),
    ]
    assert alerts[-1]["overage"] == 15 and alerts[-1]["severity"] == "critical"


def test_the_scheduled_sweep_raises_what_the_stream_path_missed_once_and_refreshes_health(world):
    root = world["root"]
    count(root, "acme", 9)  # the stream is never delivered: the real-time path is down
    root.activity_recorder.record({("acme", "calls")})  # the activity it did record before failing
    sweep = import_handler(Template.load(ROOT / "template.yaml").functions()["AggregatorFunction"], fresh=True)
    first = sweep({"job": "alert-sweep"}, FakeContext())
    assert (first["tenants"], first["raised"]) == (1, 2)
    assert [(a["type"], a["thresholds"], a["used"]) for a in received(world, "all")] == [
        ("usage.threshold_reached", [0.5], 9),
        ("usage.threshold_reached", [0.8], 9),
    ]
    assert sweep({"job": "alert-sweep"}, FakeContext())["raised"] == 0 and received(world, "all") == []
    deliver(world, world["stream"].read())  # the stream path, late: the same ids, nothing new
    assert received(world, "all") == []
    health = root.health.of("acme")
    assert (health.status.value, health.has_overages) == ("warning", False)  # 9 of 10: 90 %
