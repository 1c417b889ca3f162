"""Evaluators racing on the same crossings, against moto in server mode (conditional writes
isolated as DynamoDB isolates them): 8 execution environments handle the same stream records
at once, and each crossing is stored once and published once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import new_root
from tests.integration.conftest import template_on

pytestmark = pytest.mark.server

THRESHOLDS = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))


@pytest.fixture
def world(moto_server: str) -> Iterator[dict[str, Any]]:
    from tollgate.domain.meters import Aggregation
    from tollgate.domain.periods import Window
    from tollgate.domain.plans import Limit

    with template_on(moto_server):
        root = new_root()
        root.meters.create_meter({"key": "calls", "name": "calls", "aggregation": Aggregation.COUNT})
        limits = [Limit("calls", Window.MONTH, Decimal(10), thresholds=THRESHOLDS)]
        root.plans.put_plan("pro", "Pro", limits, None, actor="t", reason="t")
        root.tenants.create_tenant({"id": "acme", "name": "acme", "timezone": "Europe/Paris", "plan": "pro"}, actor="t")
        sqs, sns = root._client("sqs"), root._client("sns")
        url = sqs.create_queue(QueueName="race-subscriber")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=root.settings.alerts_topic_arn, Protocol="sqs", Endpoint=arn)
        yield {"root": root, "sqs": sqs, "url": url}


def test_eight_evaluators_on_the_same_records_store_and_publish_each_crossing_once(world):
    from tollgate.domain.periods import Window, utc_key, window_start, zone

    root = world["root"]
    key = utc_key(window_start(root.clock.now(), Window.MONTH, zone("Europe/Paris")))
    image = {"pk": {"S": "T#acme#calls#month"}, "sk": {"S": key}}
    records = [
        {
            "eventName": "MODIFY",
            "dynamodb": {"Keys": image, "OldImage": {**image, "v": {"N": old}}, "NewImage": {**image, "v": {"N": new}}},
        }
        for old, new in (("0", "6"), ("6", "12"))
    ]
    roots = [new_root() for _ in range(8)]  # one execution environment each
    barrier = threading.Barrier(8)

    def evaluate(i: int) -> None:
        barrier.wait()
        for record in records:
            roots[i].real_time_alerts.handle(record)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(evaluate, range(8)))
    bodies: list[dict[str, Any]] = []
    while True:
        msgs = world["sqs"].receive_message(QueueUrl=world["url"], MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            break
        bodies += [json.loads(json.loads(m["Body"])["Message"]) for m in msgs]
        for m in msgs:
            world["sqs"].delete_message(QueueUrl=world["url"], ReceiptHandle=m["ReceiptHandle"])
    published = Counter((b["type"], tuple(b["thresholds"])) for b in bodies)
    assert published == {
        ("usage.threshold_reached", (0.5,)): 1,
        ("usage.threshold_reached", (0.8,)): 1,
        ("usage.threshold_reached", (1,)): 1,
        ("billing.over_limit", ()): 1,
    }
    assert root.alert_store.unread_count("acme") == 4
