"""The local DynamoDB stream -> Lambda mapping against the local stack's own moto server, with
template.yaml's counters table and its AlertsFunction mapping (filter, batching, failures)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ROOT
from tollgate.domain.periods import Window
from tollgate.domain.storage_keys import group_pk, total_pk
from tollgate_dev.local.esm import DynamoDbStreamMapping, StreamPoller, stream_mappings
from tollgate_dev.local.resources import create_tables
from tollgate_dev.local.template import Template

pytestmark = pytest.mark.server

REGION = "us-east-1"


@dataclasses.dataclass
class World:
    mapping: DynamoDbStreamMapping
    table: str
    dynamodb: Any
    streams: Any


@pytest.fixture(scope="module")
def world(moto_server: str) -> Iterator[World]:
    """The template's tables on the moto server, and the template's stream mapping."""
    template = Template.load(ROOT / "template.yaml", endpoint_url=moto_server)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", moto_server)
        tables = create_tables(template, boto3.Session())
    (mapping,) = stream_mappings(template)

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=moto_server,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    yield World(mapping, tables["CountersTable"], client("dynamodb"), client("dynamodbstreams"))


class Recorder:
    """The function: keeps every record it is given (thread-safe); ``answer(records, call)`` replies."""

    def __init__(self, answer: Callable[[list[dict[str, Any]], int], Any] = lambda records, call: None) -> None:
        self.answer = answer
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> Any:
        with self.lock:
            self.batches.append(event["Records"])
            return self.answer(event["Records"], len(self.batches))

    @property
    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [record for batch in self.batches for record in batch]


def _add(table: str, pk: str, sk: str, amount: int) -> dict[str, Any]:
    """A counter ADD, as the consumer's commit transaction writes it."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": "ADD #v :d",
            "ExpressionAttributeNames": {"#v": "v"},
            "ExpressionAttributeValues": {":d": {"N": str(amount)}},
        }
    }


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``condition`` held (fails after ``timeout_s``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_only_tenant_counters_are_delivered_each_change_once_with_both_images(world: World) -> None:
    tenant_pk, group = total_pk("acme", "api_calls", Window.DAY), group_pk("acme", "api_calls", Window.DAY, "region")
    function, stop = Recorder(), threading.Event()
    poller = StreamPoller(world.mapping, function, world.streams, stop, region=REGION)
    poller.start()
    try:
        commit = [_add(world.table, tenant_pk, "2026-01-01", 1), _add(world.table, group, "2026-01-01#eu", 1)]
        world.dynamodb.transact_write_items(TransactItems=commit)
        written = time.monotonic()
        world.dynamodb.transact_write_items(TransactItems=[_add(world.table, tenant_pk, "2026-01-01", 2)])
        with pytest.raises(ClientError):  # cancelled: its ADD must never reach the function
            world.dynamodb.transact_write_items(
                TransactItems=[
                    _add(world.table, tenant_pk, "2026-01-01", 100),
                    {
                        "ConditionCheck": {
                            "TableName": world.table,
                            "Key": {"pk": {"S": group}, "sk": {"S": "2026-01-01#eu"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        world.dynamodb.transact_write_items(TransactItems=[_add(world.table, tenant_pk, "2026-01-01", 0)])  # no change
        delivered_after = _wait_for(lambda: len(function.records) >= 2, timeout_s=5) + (time.monotonic() - written)
        time.sleep(1.5)  # a batching window and more: nothing else arrives
    finally:
        stop.set()
        poller.join(timeout=5)

    assert delivered_after < 3  # batching window (1 s) plus polling
    inserted, modified = function.records
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in function.records] == [tenant_pk, tenant_pk]
    assert (inserted["eventName"], modified["eventName"]) == ("INSERT", "MODIFY")
    assert "OldImage" not in inserted["dynamodb"]
    assert inserted["dynamodb"]["NewImage"]["v"] == {"N": "1"}
    assert (modified["dynamodb"]["OldImage"]["v"], modified["dynamodb"]["NewImage"]["v"]) == ({"N": "1"}, {"N": "3"})
    assert modified["dynamodb"]["NewImage"]["sk"] == {"S": "2026-01-01"}
    assert modified["eventSource"] == "aws:dynamodb" and modified["eventSourceARN"] == world.mapping.stream_arn
    assert modified["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert int(inserted["dynamodb"]["SequenceNumber"]) < int(modified["dynamodb"]["SequenceNumber"])
    assert isinstance(modified["dynamodb"]["ApproximateCreationDateTime"], int)
    assert poller.discarded == 0


def test_a_reported_failure_is_redelivered_from_that_record_on(world: World) -> None:
    mapping = dataclasses.replace(world.mapping, starting_position="LATEST", window_s=0)
    failed: list[str] = []

    def answer(records: list[dict[str, Any]], call: int) -> dict[str, Any]:
        if call > 1:
            return {"batchItemFailures": []}
        failed.append(records[1]["dynamodb"]["SequenceNumber"])
        return {"batchItemFailures": [{"itemIdentifier": failed[0]}]}

    function = Recorder(answer)
    poller = StreamPoller(mapping, function, world.streams, threading.Event(), region=REGION, retry_delay_s=0)
    poller.poll_once()  # the iterator, at LATEST
    for day in ("2026-02-01", "2026-02-02", "2026-02-03"):
        world.dynamodb.transact_write_items(
            TransactItems=[_add(world.table, total_pk("beta", "m", Window.DAY), day, 1)]
        )
    _wait_for(lambda: poller.poll_once() > 0, timeout_s=5)

    first, retried = function.batches
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in first] == ["2026-02-01", "2026-02-02", "2026-02-03"]
    assert [r["dynamodb"]["SequenceNumber"] for r in retried] == [r["dynamodb"]["SequenceNumber"] for r in first[1:]]
    assert retried[0]["dynamodb"]["SequenceNumber"] == failed[0]
