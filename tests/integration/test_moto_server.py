"""The local stack's moto server (tollgate_dev/local/moto_server.py): isolated transactions,
38-digit numbers and long polls that do not stall everyone else.

Each test would fail against moto's plain ``ThreadedMotoServer``: concurrent cancelled
transactions undo committed ones (or crash with "dictionary changed size during iteration"),
and a sum with a fraction in it is rounded to 28 significant digits."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def endpoint(moto_server: str) -> str:
    return moto_server


def _client(endpoint: str, service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=32),
    )


@pytest.fixture
def table(endpoint: str) -> tuple[Any, str]:
    dynamodb = _client(endpoint, "dynamodb")
    name = f"t-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb, name


def _add(dynamodb: Any, table: str, key: str, value: str, *, transact: bool = False) -> None:
    update = {
        "TableName": table,
        "Key": {"k": {"S": key}},
        "UpdateExpression": "ADD v :d",
        "ExpressionAttributeValues": {":d": {"N": value}},
    }
    if transact:
        dynamodb.transact_write_items(TransactItems=[{"Update": update}])
    else:
        dynamodb.update_item(**update)


def _value(dynamodb: Any, table: str, key: str) -> Decimal:
    return Decimal(dynamodb.get_item(TableName=table, Key={"k": {"S": key}}, ConsistentRead=True)["Item"]["v"]["N"])


@pytest.mark.parametrize("transact", [False, True], ids=["UpdateItem", "TransactWriteItems"])
def test_sums_keep_38_significant_digits(table: tuple[Any, str], transact: bool) -> None:
    dynamodb, name = table
    for value in ("10000000000000000000000000000", "1"):  # 1e28, then 1: two ints, exact in moto anyway
        _add(dynamodb, name, "ints", value, transact=transact)
    assert _value(dynamodb, name, "ints") == Decimal("10000000000000000000000000001")
    # A fraction anywhere sends moto down its Decimal path: 28 digits would give 1.000...0E+28.
    for value in ("0.5", "10000000000000000000000000000", "0.5"):
        _add(dynamodb, name, "fractions", value, transact=transact)
    assert _value(dynamodb, name, "fractions") == Decimal("10000000000000000000000000001")
    for value in ("0.1", "9" * 36):  # 38 digits exactly
        _add(dynamodb, name, "38", value, transact=transact)
    assert _value(dynamodb, name, "38") == Decimal("9" * 36 + ".1")


def test_the_precision_does_not_leak_into_the_callers_thread(endpoint: str) -> None:
    import decimal

    assert decimal.getcontext().prec == 28


def test_concurrent_conditional_transactions_are_isolated(table: tuple[Any, str]) -> None:
    """Like consume: a counter capped at 100 by a condition, 8 threads x 20 attempts. Each
    admitted transaction also writes a marker item; the counter must equal the markers."""
    from botocore.exceptions import ClientError

    dynamodb, name = table
    cap = 100

    def attempt(i: int) -> str:
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": name,
                            "Item": {"k": {"S": f"m-{i}"}},
                            "ConditionExpression": "attribute_not_exists(k)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": name,
                            "Key": {"k": {"S": "counter"}},
                            "UpdateExpression": "ADD v :one",
                            "ConditionExpression": "attribute_not_exists(v) OR v < :cap",
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": {"N": str(cap)}},
                        }
                    },
                ]
            )
            return "admitted"
        except ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(160)))
    assert set(outcomes) <= {"admitted", "TransactionCanceledException"}, set(outcomes)
    markers = sum(
        1
        for page in dynamodb.get_paginator("scan").paginate(TableName=name)
        for item in page["Items"]
        if item["k"]["S"].startswith("m-")
    )
    assert outcomes.count("admitted") == cap == markers == _value(dynamodb, name, "counter")


def test_a_long_poll_waits_without_holding_up_other_requests(endpoint: str, table: tuple[Any, str]) -> None:
    sqs = _client(endpoint, "sqs")
    dynamodb, name = table
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    received: list[Any] = []
    started = time.monotonic()
    poll = threading.Thread(target=lambda: received.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)))
    poll.start()
    time.sleep(0.2)
    _add(dynamodb, name, "during", "1")  # served while the long poll waits
    assert time.monotonic() - started < 1.5
    _client(endpoint, "sqs").send_message(QueueUrl=url, MessageBody="hello")
    poll.join(5)
    assert [m["Body"] for m in received[0]["Messages"]] == ["hello"]
    assert time.monotonic() - started < 2.5  # woke up on the message, not at the end of the wait

    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, VisibilityTimeout=30)
    assert 0.9 < time.monotonic() - started < 2

    from moto.sqs.models import Message

    for _ in range(20):
        sqs.send_message(QueueUrl=url, MessageBody="x" * 10_000)
    assert len(Message.instances_tracked) < 5  # moto would keep every message (and every received copy)


def test_a_cancelled_transaction_undoes_its_own_writes_only(table: tuple[Any, str]) -> None:
    from botocore.exceptions import ClientError

    dynamodb, name = table
    _add(dynamodb, name, "existing", "5")
    _add(dynamodb, name, "bystander", "7")
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"k": {"S": "new"}, "v": {"N": "1"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"k": {"S": "existing"}},
                        "UpdateExpression": "ADD v :d",
                        "ExpressionAttributeValues": {":d": {"N": "100"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"k": {"S": "bystander"}},
                        "ConditionExpression": "v = :x",
                        "ExpressionAttributeValues": {":x": {"N": "0"}},
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in dynamodb.get_item(TableName=name, Key={"k": {"S": "new"}})
    assert (_value(dynamodb, name, "existing"), _value(dynamodb, name, "bystander")) == (5, 7)
    _add(dynamodb, name, "existing", "1", transact=True)  # the table still works after the rollback
    assert _value(dynamodb, name, "existing") == 6


def test_transactions_do_not_copy_the_whole_table_or_leak_items(table: tuple[Any, str]) -> None:
    """moto deep-copies every table a transaction touches (about 60 ms per 1,000 items here)
    and keeps every Item it creates; with a local state that survives restarts both grow."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import Item

    dynamodb, name = table
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    for i in range(20_000):
        backend.tables[name].put_item({"k": {"S": f"bulk-{i}"}, "msg": {"S": "x" * 36}})
    _add(dynamodb, name, "warm", "1", transact=True)
    started = time.perf_counter()
    for _ in range(10):
        _add(dynamodb, name, "hot", "1", transact=True)
    assert (time.perf_counter() - started) / 10 < 0.25  # a full copy of 20,000 items takes seconds
    assert _value(dynamodb, name, "hot") == 10
    assert len(Item.instances_tracked) < 100


# ------------------------------------------------------------------ DynamoDB Streams
@pytest.fixture
def streamed(endpoint: str) -> tuple[Any, Any, str, str]:
    """A table with a NEW_AND_OLD_IMAGES stream: (dynamodb, dynamodbstreams, table, stream ARN)."""
    dynamodb = _client(endpoint, "dynamodb")
    name = f"s-{uuid.uuid4().hex[:8]}"
    table = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return dynamodb, _client(endpoint, "dynamodbstreams"), name, table["LatestStreamArn"]


def _stream(streams: Any, arn: str, position: str = "TRIM_HORIZON") -> list[dict[str, Any]]:
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=position)
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def _images(record: dict[str, Any]) -> tuple[str, str | None, str | None]:
    images = [record["dynamodb"].get(name, {}).get("v", {}).get("N") for name in ("OldImage", "NewImage")]
    return record["eventName"], images[0], images[1]


def test_stream_records_are_the_ones_dynamodb_writes(streamed: tuple[Any, Any, str, str]) -> None:
    """One INSERT for an update that creates an item (moto: a keys-only INSERT too), none for a
    write that changes nothing, none for a cancelled transaction's writes."""
    from botocore.exceptions import ClientError

    dynamodb, streams, name, arn = streamed
    _add(dynamodb, name, "a", "1")
    _add(dynamodb, name, "a", "2", transact=True)
    _add(dynamodb, name, "a", "0")  # no change
    dynamodb.put_item(TableName=name, Item={"k": {"S": "a"}, "v": {"N": "3"}})  # the same item again
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"k": {"S": "a"}},
                        "UpdateExpression": "ADD v :d",
                        "ExpressionAttributeValues": {":d": {"N": "100"}},
                    }
                },
                {"Put": {"TableName": name, "Item": {"k": {"S": "b"}}, "ConditionExpression": "attribute_exists(k)"}},
            ]
        )
    dynamodb.delete_item(TableName=name, Key={"k": {"S": "a"}})
    records = _stream(streams, arn)
    assert [_images(r) for r in records] == [("INSERT", None, "1"), ("MODIFY", "1", "3"), ("REMOVE", "3", None)]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == list(range(numbers[0], numbers[0] + 3))


def test_a_stream_keeps_its_newest_records_and_a_reader_behind_them_skips_ahead(
    streamed: tuple[Any, Any, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tollgate_dev.local import moto_server

    monkeypatch.setattr(moto_server, "STREAM_RECORDS_KEPT", 10)
    dynamodb, streams, name, arn = streamed
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    behind = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    for i in range(30):
        _add(dynamodb, name, f"k{i}", "1")
    kept = _stream(streams, arn)
    assert [r["dynamodb"]["Keys"]["k"]["S"] for r in kept] == [f"k{i}" for i in range(20, 30)]
    late = streams.get_records(ShardIterator=behind["ShardIterator"])["Records"]
    assert late == kept
    _add(dynamodb, name, "k30", "1")  # numbering goes on after a trim
    (newest,) = _stream(streams, arn)[-1:]
    assert int(newest["dynamodb"]["SequenceNumber"]) == int(kept[-1]["dynamodb"]["SequenceNumber"]) + 1


def test_shard_iterators_are_not_kept_forever(
    streamed: tuple[Any, Any, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from tollgate_dev.local import moto_server

    monkeypatch.setattr(moto_server, "SHARD_ITERATORS_KEPT", 20)
    _, streams, _, arn = streamed
    for _ in range(50):
        _stream(streams, arn)
    assert len(dynamodbstreams_backends["123456789012"]["us-east-1"].shard_iterators) <= 22
