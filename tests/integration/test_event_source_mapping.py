"""The local SQS -> Lambda event source mapping, against a moto server, with fake functions."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from tollgate_dev.local.esm import SqsMapping, SqsPoller

pytestmark = pytest.mark.server

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield boto3.client(
        "sqs",
        endpoint_url=f"http://{host}:{port}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    server.stop()


def _queue(sqs: Any, *, max_receive_count: int | None = None) -> tuple[str, str, str | None]:
    """A fresh queue (and dead-letter queue): (url, arn, dlq url)."""
    name = f"q-{uuid.uuid4().hex[:12]}"
    attributes: dict[str, str] = {}
    dlq_url = None
    if max_receive_count is not None:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url


def _send(sqs: Any, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": body,
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "usage"}},
            }
            for i, body in enumerate(bodies[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _in_queue(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


class FakeFunction:
    """Records every batch; ``fails(body, delivery)`` picks the records to report as failed."""

    def __init__(self, fails: Callable[[str, int], bool] = lambda body, delivery: False) -> None:
        self.fails = fails
        self.batches: list[list[dict[str, Any]]] = []
        self.deliveries: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.batches.append(event["Records"])
            failures = []
            for record in event["Records"]:
                self.deliveries[record["body"]] += 1
                if self.fails(record["body"], self.deliveries[record["body"]]):
                    failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}


def _poller(sqs: Any, arn: str, function: Callable, stop: threading.Event | None = None, **mapping: Any) -> SqsPoller:
    spec = SqsMapping(function_id="FakeFunction", event_id="Queue", queue_arn=arn, **mapping)
    return SqsPoller(spec, function, sqs, stop or threading.Event(), region=REGION)


def _poll_until_some(poller: SqsPoller, timeout: float = 5) -> int:
    """Poll until a batch arrives (retried messages reappear after the 1 s local retry delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if received := poller.poll_once():
            return received
    return 0


def test_batch_size_is_honoured_and_batches_accumulate_past_ten(sqs: Any) -> None:
    url, arn, _ = _queue(sqs)
    _send(sqs, url, [f"m{i}" for i in range(32)])
    function = FakeFunction()
    poller = _poller(sqs, arn, function, batch_size=25, window_s=1)

    assert poller.poll_once() == 25  # three ReceiveMessage calls (10 + 10 + 5) make one batch
    assert poller.poll_once() == 7
    assert [len(batch) for batch in function.batches] == [25, 7]
    assert _in_queue(sqs, url) == 0


def test_batching_window_bounds_the_wait(sqs: Any) -> None:
    url, arn, _ = _queue(sqs)
    _send(sqs, url, ["a", "b", "c"])
    poller = _poller(sqs, arn, FakeFunction(), batch_size=100, window_s=1)

    started = time.monotonic()
    assert poller.poll_once() == 3
    assert 0.9 <= time.monotonic() - started < 2.0


def test_records_have_the_lambda_sqs_event_shape(sqs: Any) -> None:
    url, arn, _ = _queue(sqs)
    _send(sqs, url, ["hello"])
    function = FakeFunction()
    _poller(sqs, arn, function, batch_size=10).poll_once()

    (record,) = function.batches[0]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) > 0
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "usage",
        "binaryValue": None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_partial_batch_failures_are_retried_and_the_rest_deleted(sqs: Any) -> None:
    url, arn, _ = _queue(sqs)
    _send(sqs, url, ["a", "b", "c", "d"])
    function = FakeFunction(fails=lambda body, delivery: body in ("b", "d") and delivery == 1)
    poller = _poller(sqs, arn, function, batch_size=10, report_batch_item_failures=True)

    assert poller.poll_once() == 4
    assert _poll_until_some(poller) == 2  # b and d again, after the 1 s local retry delay
    retried = function.batches[1]
    assert sorted(r["body"] for r in retried) == ["b", "d"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in retried} == {"2"}
    assert _in_queue(sqs, url) == 0


def test_without_report_batch_item_failures_the_response_is_ignored(sqs: Any) -> None:
    url, arn, _ = _queue(sqs)
    _send(sqs, url, ["a", "b"])
    poller = _poller(sqs, arn, FakeFunction(fails=lambda body, delivery: True), batch_size=10)

    assert poller.poll_once() == 2
    assert _in_queue(sqs, url) == 0


def test_an_exception_fails_the_whole_batch(sqs: Any) -> None:
    url, arn, _ = _queue(sqs)
    _send(sqs, url, ["a", "b"])
    calls = []

    def explode(event: dict[str, Any]) -> None:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("boom")

    poller = _poller(sqs, arn, explode, batch_size=10, report_batch_item_failures=True)
    assert poller.poll_once() == 2
    assert _poll_until_some(poller) == 2
    assert calls == [2, 2]
    assert _in_queue(sqs, url) == 0


def test_a_poison_message_reaches_the_dlq_after_max_receive_count(sqs: Any) -> None:
    url, arn, dlq_url = _queue(sqs, max_receive_count=3)
    _send(sqs, url, ["poison", "ok-1", "ok-2", "ok-3"])
    function = FakeFunction(fails=lambda body, delivery: body == "poison")
    stop = threading.Event()
    poller = _poller(sqs, arn, function, stop, batch_size=10, report_batch_item_failures=True)
    poller.retry_delay_s = 0  # retry at once: this test is about counting, not waiting
    poller.start()
    try:
        deadline = time.monotonic() + 15
        while _in_queue(sqs, dlq_url) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(timeout=5)

    assert not poller.is_alive()
    assert function.deliveries == {"poison": 3, "ok-1": 1, "ok-2": 1, "ok-3": 1}
    assert _in_queue(sqs, url) == 0  # batch-mates deleted, poison moved
    (dead,) = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert dead["Body"] == "poison"
