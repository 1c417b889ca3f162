"""The local DynamoDB stream event source mapping, without AWS: the filter patterns, the
template's mappings, the record shape, and the poller's batching, retry, bisect and shard
bookkeeping against an in-memory stream and a fake function."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tollgate_dev.local.esm import DynamoDbStreamMapping, StreamPoller, stream_mappings, stream_record
from tollgate_dev.local.filters import FilterError, matches, matches_any, parse_pattern
from tollgate_dev.local.template import Template, TemplateError, load_yaml

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/counters/stream/2026-01-01T00:00:00.000"
CREATED = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


# ------------------------------------------------------------------ filters
def _record(pk: str, **extra: Any) -> dict[str, Any]:
    return {"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": pk}}, **extra}}


def test_the_templates_pattern_takes_tenant_counters_only() -> None:
    (pattern,) = [parse_pattern('{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "T#"}]}}}}')]
    assert matches(pattern, _record("T#acme#api_calls#day"))
    assert not matches(pattern, _record("G#acme#api_calls#day#region"))
    assert not matches(pattern, _record("OPS#quarantined"))
    assert not matches(pattern, {"dynamodb": {"Keys": {"pk": {"N": "1"}}}})  # no S at all
    assert not matches(pattern, {"eventName": "INSERT"})  # no dynamodb at all


def test_exact_values_numbers_and_lists() -> None:
    pattern = parse_pattern({"eventName": ["INSERT", "MODIFY"], "size": [5], "flag": [True], "none": [None]})
    record = {"eventName": "MODIFY", "size": 5.0, "flag": True, "none": None}
    assert matches(pattern, record)
    assert not matches(pattern, record | {"eventName": "REMOVE"})
    assert not matches(pattern, record | {"size": "5"})  # a string never equals a number
    assert not matches(pattern, record | {"flag": 1})
    assert matches(parse_pattern({"tags": ["b"]}), {"tags": ["a", "b"]})  # a list field: any element
    assert matches(parse_pattern({"tags": [{"prefix": "x"}]}), {"tags": ["a", "xy"]})
    assert not matches(parse_pattern({"n": [{"prefix": "1"}]}), {"n": 12})  # prefix is for strings


def test_exists_tests_presence_and_an_absent_parent_is_absent() -> None:
    present = parse_pattern({"dynamodb": {"OldImage": [{"exists": True}]}})
    absent = parse_pattern({"dynamodb": {"OldImage": [{"exists": False}]}})
    modify, insert = _record("T#a", OldImage={}), _record("T#a")
    assert matches(present, modify) and not matches(present, insert)
    assert matches(absent, insert) and not matches(absent, modify)
    deep = parse_pattern({"dynamodb": {"NewImage": {"alert": {"S": [{"exists": False}]}}}})
    assert matches(deep, insert)  # no NewImage, so no alert in it
    assert not matches(deep, _record("T#a", NewImage={"alert": {"S": "x"}}))


def test_filters_are_alternatives_and_none_lets_everything_through() -> None:
    tenants = parse_pattern({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "T#"}]}}}})
    removals = parse_pattern({"eventName": ["REMOVE"]})
    assert matches_any([], _record("G#x"))
    assert matches_any([tenants, removals], _record("T#x"))
    assert matches_any([tenants, removals], _record("G#x") | {"eventName": "REMOVE"})
    assert not matches_any([tenants, removals], _record("G#x"))


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        "[]",
        "{}",
        '{"a": []}',
        '{"a": "x"}',
        '{"a": [{"anything-but": "x"}]}',
        '{"a": [{"numeric": [">", 0]}]}',
        '{"a": [{"suffix": "x"}]}',
        '{"$or": [{"a": ["x"]}]}',
        '{"a": [{"prefix": 1}]}',
        '{"a": [{"exists": "yes"}]}',
        '{"a": [{"prefix": "x", "exists": true}]}',
        '{"a": [["x"]]}',
    ],
)
def test_patterns_it_cannot_read_the_way_lambda_does_are_refused(pattern: str) -> None:
    with pytest.raises(FilterError):
        parse_pattern(pattern)


# ------------------------------------------------------------------ the template
def test_the_real_template_maps_the_counters_stream_to_the_alerts_function() -> None:
    real = Template.load(ROOT / "template.yaml")
    with pytest.raises(TemplateError, match="known once the table exists"):
        stream_mappings(real)
    real.record_attribute("CountersTable", "StreamArn", ARN)  # what create_tables does
    (mapping,) = stream_mappings(real)
    assert (mapping.name, mapping.stream_arn, mapping.starting_position) == (
        "AlertsFunction.Counters",
        ARN,
        "TRIM_HORIZON",
    )
    assert (mapping.batch_size, mapping.window_s, mapping.max_retries) == (1000, 1.0, 10)
    assert mapping.report_batch_item_failures and mapping.bisect_on_error and mapping.enabled
    assert matches_any(mapping.filters, _record("T#acme#api_calls#day"))
    assert not matches_any(mapping.filters, _record("G#acme#api_calls#day#eu"))
    counters = real.table_specs()["CountersTable"]
    assert counters.stream_specification == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


STREAMS = """
Resources:
  Plain:
    Type: AWS::DynamoDB::Table
    Properties: {KeySchema: [{AttributeName: pk, KeyType: HASH}], AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]}
  Streamed:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      StreamSpecification: {StreamViewType: KEYS_ONLY}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Events:
        Changes:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Streamed.StreamArn, StartingPosition: LATEST, Enabled: false}
"""


def test_defaults_and_errors_of_a_stream_event() -> None:
    template = Template(load_yaml(STREAMS), base_dir=Path("/repo"))
    with pytest.raises(TemplateError, match="no StreamSpecification"):
        template.resolve({"Fn::GetAtt": ["Plain", "StreamArn"]})
    template.record_attribute("Streamed", "StreamArn", ARN)
    (mapping,) = stream_mappings(template)
    assert mapping == DynamoDbStreamMapping(
        function_id="Fn", event_id="Changes", stream_arn=ARN, starting_position="LATEST", enabled=False
    )
    assert (mapping.batch_size, mapping.max_retries, mapping.filters) == (100, -1, ())

    event = template.resources["Fn"]["Properties"]["Events"]["Changes"]["Properties"]
    event["StartingPosition"] = "AT_TIMESTAMP"
    with pytest.raises(TemplateError, match="TRIM_HORIZON or LATEST"):
        stream_mappings(template)
    event["StartingPosition"] = "TRIM_HORIZON"
    event["FilterCriteria"] = {"Filters": [{"Pattern": '{"a": [{"suffix": "x"}]}'}]}
    with pytest.raises(TemplateError, match=r"Fn\.Changes: .*suffix"):
        stream_mappings(template)


# ------------------------------------------------------------------ the record
def test_records_have_the_lambda_dynamodb_event_shape() -> None:
    raw = {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": CREATED,
            "Keys": {"pk": {"S": "T#a"}},
            "NewImage": {"pk": {"S": "T#a"}, "b": {"B": b"\x00\x01"}, "bs": {"BS": [b"\xff"]}, "v": {"N": "2"}},
            "OldImage": {"pk": {"S": "T#a"}, "l": {"L": [{"M": {"x": {"B": b"x"}}}]}, "v": {"N": "1"}},
            "SequenceNumber": "100",
            "SizeBytes": 42,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    record = stream_record(raw, ARN, "eu-west-1")
    assert record == {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "eventSourceARN": ARN,
        "dynamodb": {
            "ApproximateCreationDateTime": int(CREATED.timestamp()),
            "Keys": {"pk": {"S": "T#a"}},
            "NewImage": {"pk": {"S": "T#a"}, "b": {"B": "AAE="}, "bs": {"BS": ["/w=="]}, "v": {"N": "2"}},
            "OldImage": {"pk": {"S": "T#a"}, "l": {"L": [{"M": {"x": {"B": "eA=="}}}]}, "v": {"N": "1"}},
            "SequenceNumber": "100",
            "SizeBytes": 42,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


# ------------------------------------------------------------------ the poller
class FakeStreams:
    """DynamoDB Streams' API over in-memory shards; an iterator is ``<shard>|<position>``."""

    def __init__(self, *shards: str, parents: dict[str, str] | None = None) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {shard: [] for shard in shards or ("shard-1",)}
        self.parents = parents or {}
        self.closed: set[str] = set()
        self.failures = 0  # GetRecords calls still to fail
        self.requests: list[tuple[str, Any]] = []
        self._sequence = 100

    def write(self, pk: str, *, shard: str = "shard-1", name: str = "MODIFY", value: int = 1) -> str:
        self._sequence += 1
        image = {"pk": {"S": pk}, "v": {"N": str(value)}}
        dynamodb = {
            "ApproximateCreationDateTime": CREATED,
            "Keys": {"pk": {"S": pk}},
            "NewImage": image,
            "SequenceNumber": str(self._sequence),
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if name == "MODIFY":
            dynamodb["OldImage"] = image | {"v": {"N": str(value - 1)}}
        self.records[shard].append({"eventID": f"e{self._sequence}", "eventName": name, "dynamodb": dynamodb})
        return str(self._sequence)

    def describe_stream(self, **request: Any) -> dict[str, Any]:
        shards = [
            {"ShardId": shard} | ({"ParentShardId": self.parents[shard]} if shard in self.parents else {})
            for shard in self.records
        ]
        return {"StreamDescription": {"StreamArn": request["StreamArn"], "Shards": shards}}

    def get_shard_iterator(self, **request: Any) -> dict[str, str]:
        shard, kind, number = request["ShardId"], request["ShardIteratorType"], request.get("SequenceNumber")
        self.requests.append(("iterator", (shard, kind, number)))
        records = self.records[shard]
        if kind == "TRIM_HORIZON":
            position = 0
        elif kind == "LATEST":
            position = len(records)
        else:
            assert kind == "AFTER_SEQUENCE_NUMBER"
            position = 1 + [r["dynamodb"]["SequenceNumber"] for r in records].index(number)
        return {"ShardIterator": f"{shard}|{position}"}

    def get_records(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("records", request["ShardIterator"]))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("ExpiredIteratorException")
        shard, position = request["ShardIterator"].split("|")
        records = self.records[shard][int(position) : int(position) + request["Limit"]]
        end = int(position) + len(records)
        if shard in self.closed and end == len(self.records[shard]):
            return {"Records": records}  # no NextShardIterator: the shard is read to its end
        return {"Records": records, "NextShardIterator": f"{shard}|{end}"}


class FakeFunction:
    """Records each batch's sequence numbers; ``behaviour(sequence numbers, call)`` answers."""

    def __init__(self, behaviour: Callable[[list[str], int], Any] = lambda numbers, call: None) -> None:
        self.behaviour = behaviour
        self.batches: list[list[str]] = []
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        numbers = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
        self.batches.append(numbers)
        self.events.append(event)
        return self.behaviour(numbers, len(self.batches))


def _poller(streams: FakeStreams, function: Callable[[dict[str, Any]], Any], **mapping: Any) -> StreamPoller:
    spec = DynamoDbStreamMapping(function_id="Alerts", event_id="Counters", stream_arn=ARN, **mapping)
    return StreamPoller(spec, function, streams, threading.Event(), region="us-east-1", retry_delay_s=0)


TENANTS = (parse_pattern('{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "T#"}]}}}}'),)


def test_filtered_records_are_dropped_and_do_not_count_toward_the_batch() -> None:
    streams = FakeStreams()
    wanted = [streams.write(f"T#{i}") if i % 2 == 0 else streams.write(f"G#{i}") for i in range(250)][::2]
    function = FakeFunction()
    poller = _poller(streams, function, batch_size=100, filters=TENANTS)

    assert poller.poll_once() == 100
    assert poller.poll_once() == 25
    assert poller.poll_once() == 0
    assert [n for batch in function.batches for n in batch] == wanted
    (record, *_) = function.events[0]["Records"]
    assert record["eventSourceARN"] == ARN and record["dynamodb"]["Keys"] == {"pk": {"S": "T#0"}}
    assert poller.caught_up_at is not None


def test_the_batching_window_gathers_records_that_arrive_within_it() -> None:
    streams = FakeStreams()
    streams.write("T#first")
    late = threading.Timer(0.15, lambda: streams.write("T#late"))
    late.start()
    function = FakeFunction()
    started = time.monotonic()
    assert _poller(streams, function, batch_size=10, window_s=0.4).poll_once() == 2
    assert 0.35 <= time.monotonic() - started < 1.5
    late.join()

    streams.write("T#a")
    streams.write("T#b")
    started = time.monotonic()
    assert _poller(streams, FakeFunction(), batch_size=2, window_s=5).poll_once() == 2  # full: no waiting
    assert time.monotonic() - started < 0.5


def test_a_reported_failure_retries_from_the_lowest_failed_sequence_number() -> None:
    streams = FakeStreams()
    numbers = [streams.write(f"T#{i}") for i in range(6)]
    fail_once = {numbers[4], numbers[2]}

    def behaviour(batch: list[str], call: int) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": n} for n in batch if n in fail_once and call == 1]}

    function = FakeFunction(behaviour)
    poller = _poller(streams, function, batch_size=10, report_batch_item_failures=True)
    assert poller.poll_once() == 6
    assert function.batches == [numbers, numbers[2:]]  # 0 and 1 are done; 3 and 5 go again with 2 and 4
    assert poller.poll_once() == 0 and len(function.batches) == 2


def test_without_report_batch_item_failures_the_response_is_ignored() -> None:
    streams = FakeStreams()
    numbers = [streams.write("T#a"), streams.write("T#b")]
    function = FakeFunction(lambda batch, call: {"batchItemFailures": [{"itemIdentifier": batch[0]}]})
    _poller(streams, function, batch_size=10).poll_once()
    assert function.batches == [numbers]


@pytest.mark.parametrize(
    "response",
    [{"batchItemFailures": [{"itemIdentifier": "999"}]}, {"batchItemFailures": [{"itemIdentifier": ""}]}, "nonsense"],
)
def test_a_malformed_response_fails_the_whole_batch(response: Any) -> None:
    streams = FakeStreams()
    numbers = [streams.write("T#a"), streams.write("T#b")]
    function = FakeFunction(lambda batch, call: response if call == 1 else None)
    _poller(streams, function, batch_size=10, report_batch_item_failures=True).poll_once()
    assert function.batches == [numbers, numbers]


def test_an_exception_retries_the_whole_batch_until_maximum_retry_attempts_then_moves_on() -> None:
    streams = FakeStreams()
    stuck = [streams.write("T#a"), streams.write("T#b")]

    def behaviour(batch: list[str], call: int) -> None:
        if stuck[0] in batch:
            raise RuntimeError("boom")

    function = FakeFunction(behaviour)
    poller = _poller(streams, function, batch_size=10, max_retries=2)
    assert poller.poll_once() == 2
    assert function.batches == [stuck, stuck, stuck]  # the first try and two retries
    assert poller.discarded == 2
    after = streams.write("T#c")
    poller.poll_once()
    assert function.batches[-1] == [after]


def test_bisect_isolates_the_poison_record_without_counting_the_splits_as_retries() -> None:
    streams = FakeStreams()
    numbers = [streams.write(f"T#{i}") for i in range(8)]
    poison = numbers[5]

    def behaviour(batch: list[str], call: int) -> None:
        if poison in batch:
            raise RuntimeError("poison")

    function = FakeFunction(behaviour)
    poller = _poller(streams, function, batch_size=10, max_retries=1, bisect_on_error=True)
    poller.poll_once()
    assert (
        function.batches
        == [
            numbers,
            numbers[:4],
            numbers[4:],
            numbers[4:6],
            numbers[4:5],
            [poison],
            [poison],  # its one retry
            numbers[6:],
        ]
    )
    assert poller.discarded == 1


def test_records_stay_in_order_behind_a_failing_batch() -> None:
    streams = FakeStreams()
    first = [streams.write("T#a"), streams.write("T#b")]
    second = [streams.write("T#c")]
    function = FakeFunction(
        lambda batch, call: {"batchItemFailures": [{"itemIdentifier": batch[-1]}]} if call < 3 else None
    )
    poller = _poller(streams, function, batch_size=2, report_batch_item_failures=True)
    poller.poll_once()
    poller.poll_once()
    assert function.batches == [first, first[1:], first[1:], second]


def test_a_failed_read_resumes_after_the_last_record_read() -> None:
    streams = FakeStreams()
    numbers = [streams.write("T#a"), streams.write("G#b")]
    function = FakeFunction()
    poller = _poller(streams, function, batch_size=10, filters=TENANTS)
    poller.poll_once()
    later = streams.write("T#c")
    streams.failures = 1
    with pytest.raises(RuntimeError):
        poller.poll_once()
    assert poller.poll_once() == 1
    assert function.batches == [numbers[:1], [later]]
    assert streams.requests[-2] == ("iterator", ("shard-1", "AFTER_SEQUENCE_NUMBER", numbers[1]))


def test_latest_skips_what_the_stream_held_before_the_poller_started() -> None:
    streams = FakeStreams()
    streams.write("T#old")
    function = FakeFunction()
    poller = _poller(streams, function, batch_size=10, starting_position="LATEST")
    poller.poll_once()
    new = streams.write("T#new")
    poller.poll_once()
    assert function.batches == [[new]]


def test_a_child_shard_is_read_after_its_parent_is_read_to_its_end() -> None:
    streams = FakeStreams("parent", "child", parents={"child": "parent"})
    parent = [streams.write("T#p1", shard="parent"), streams.write("T#p2", shard="parent")]
    child = [streams.write("T#c1", shard="child")]
    function = FakeFunction()
    poller = _poller(streams, function, batch_size=1)
    poller.poll_once()
    poller.poll_once()
    streams.closed.add("parent")
    poller.poll_once()  # reads the parent's end
    poller.poll_once()
    assert function.batches == [[n] for n in [*parent, *child]]


def test_the_thread_delivers_within_a_second_and_stops() -> None:
    streams = FakeStreams()
    function = FakeFunction()
    poller = _poller(streams, function, batch_size=10)
    poller.start()
    try:
        time.sleep(0.3)
        number = streams.write("T#a")
        deadline = time.monotonic() + 1
        while not function.batches and time.monotonic() < deadline:
            time.sleep(0.02)
        assert function.batches == [[number]]
    finally:
        poller.stop_event.set()
        poller.join(timeout=2)
    assert not poller.is_alive()
