"""The local stack's snapshot (tollgate_dev/local/state.py) round-trips every kind of value, queue
message and object through a file into freshly created resources, and refuses what it cannot
read without running anything in it."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def fresh_world() -> Iterator[Any]:
    """A function that resets moto and creates the template's resources again."""
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    from tollgate_dev.local.resources import create_all
    from tollgate_dev.local.template import Template

    template = Template.load(ROOT / "template.yaml")
    with mock_aws():

        def reset() -> Any:
            for backends in (dynamodb_backends, sqs_backends, s3_backends):
                backends.reset()
            return create_all(template, boto3.Session())

        yield reset


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=REGION)


def test_items_messages_and_objects_round_trip(fresh_world, tmp_path: Path) -> None:
    import boto3

    from tollgate_dev.local import state

    created = fresh_world()
    dynamodb, sqs, s3 = _client("dynamodb"), _client("sqs"), _client("s3")
    events, tenants = created.tables["EventsTable"], created.tables["TenantsTable"]
    rich = {
        "pk": {"S": "E#acme#1"},
        "sk": {"S": "E"},
        "z": {"B": b"\x00\x01binary\xff"},
        "n": {"N": "10000000000000000000000000000.5"},
        "m": {"M": {"a": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
    }
    dynamodb.put_item(TableName=events, Item=rich)
    for i in range(500):
        dynamodb.put_item(TableName=events, Item={"pk": {"S": f"E#acme#m{i}"}, "sk": {"S": "E"}, "msg": {"S": "m"}})
    dynamodb.put_item(TableName=tenants, Item={"id": {"S": "acme"}, "name": {"S": "Acme"}})
    queue = created.queues["UsageQueue"]
    sqs.send_message(
        QueueUrl=queue,
        MessageBody="pending-1",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "usage"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00"},
        },
    )
    sqs.send_message(QueueUrl=queue, MessageBody="in-flight")
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=300)  # received, not deleted
    bucket = created.buckets["InvoiceBucket"]
    s3.put_object(
        Bucket=bucket,
        Key="invoices/acme/2026-11.json",
        Body=b'{"total": 1}',
        ContentType="application/json",
        Metadata={"tenant": "acme"},
    )

    snapshot = state.capture(created, boto3.Session(), account_id=ACCOUNT, region=REGION)
    assert snapshot.counts() == {"items": 502, "messages": 2, "objects": 1}
    state.save(tmp_path, snapshot)

    created = fresh_world()  # an empty world, as at the next start
    assert dynamodb.scan(TableName=events)["Count"] == 0
    loaded = state.load(tmp_path)
    assert loaded is not None
    restored = state.restore(loaded, created, boto3.Session(), account_id=ACCOUNT, region=REGION)
    assert (restored.items, restored.messages, restored.objects, restored.skipped) == (502, 2, 1, [])

    got = dynamodb.get_item(TableName=events, Key={"pk": {"S": "E#acme#1"}, "sk": {"S": "E"}}, ConsistentRead=True)
    item = got["Item"]
    assert item["z"] == {"B": b"\x00\x01binary\xff"} and item["n"] == {"N": "10000000000000000000000000000.5"}
    assert item["m"] == rich["m"]
    assert sorted(item["ss"]["SS"]) == ["a", "b"] and sorted(item["ns"]["NS"]) == ["1", "2.5"]
    assert sorted(item["bs"]["BS"]) == [b"\x01", b"\x02"]
    assert dynamodb.scan(TableName=events, Select="COUNT")["Count"] == 501
    # the restored items behave like written ones: queries, conditions and updates
    page = dynamodb.query(
        TableName=events, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "E#acme#m7"}}
    )
    assert page["Count"] == 1
    dynamodb.update_item(
        TableName=events,
        Key={"pk": {"S": "E#acme#1"}, "sk": {"S": "E"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=tenants, Item={"id": {"S": "acme"}}, ConditionExpression="attribute_not_exists(id)")

    bodies = {}
    for _ in range(3):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        ):
            bodies[message["Body"]] = message.get("MessageAttributes", {})
    assert set(bodies) == {"pending-1", "in-flight"}  # the in-flight one is delivered again
    assert (
        bodies["pending-1"]["kind"]["StringValue"] == "usage" and bodies["pending-1"]["raw"]["BinaryValue"] == b"\x00"
    )
    obj = s3.get_object(Bucket=bucket, Key="invoices/acme/2026-11.json")
    assert obj["Body"].read() == b'{"total": 1}' and obj["ContentType"] == "application/json"
    assert obj["Metadata"] == {"tenant": "acme"}


def test_a_table_whose_key_schema_changed_is_skipped_by_name(fresh_world, tmp_path: Path) -> None:
    import boto3

    from tollgate_dev.local import state

    created = fresh_world()
    name = created.tables["TenantsTable"]
    snapshot = state.Snapshot(
        tables={
            name: {"key_schema": [("tenant", "S")], "items": [{"tenant": {"S": "acme"}}]},
            "tollgate-local-gone": {"key_schema": [("id", "S")], "items": [{"id": {"S": "x"}}]},
        }
    )
    restored = state.restore(snapshot, created, boto3.Session(), account_id=ACCOUNT, region=REGION)
    assert restored.items == 0
    assert restored.skipped == [
        f"table {name} (its key schema changed)",
        "table tollgate-local-gone (no longer in the template)",
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a pickle at all",
        pickle.dumps({"format": "something else"}),
        pickle.dumps({"format": "tollgate-local-state", "version": 999, "tables": {}, "queues": {}, "buckets": {}}),
        pickle.dumps({"format": "tollgate-local-state", "version": 1}),
        pickle.dumps(Path("/")),  # names a class: never loaded
    ],
    ids=["empty", "garbage", "foreign", "future-version", "incomplete", "class"],
)
def test_an_unreadable_snapshot_raises_state_error(tmp_path: Path, content: bytes) -> None:
    from tollgate_dev.local import state

    (tmp_path / "state.pickle").write_bytes(content)
    with pytest.raises(state.StateError) as error:
        state.load(tmp_path)
    assert "\n" not in str(error.value)


def test_no_snapshot_is_none_and_fresh_clears(tmp_path: Path) -> None:
    from tollgate_dev.local import state

    assert state.load(tmp_path) is None
    state.save(tmp_path, state.Snapshot())
    state.write_admin_key(tmp_path, "tg_0123456789abcdef_secret")
    assert state.read_admin_key(tmp_path) == "tg_0123456789abcdef_secret"
    assert (tmp_path / "admin-key").stat().st_mode & 0o077 == 0  # only the owner reads the key
    state.clear(tmp_path)
    assert state.load(tmp_path) is None and state.read_admin_key(tmp_path) is None
