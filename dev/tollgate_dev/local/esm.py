"""Lambda event source mappings, emulated: a poller thread per ``SQS`` event and per
``DynamoDB`` (stream) event.

SQS: a poller long-polls (1 s, so shutdown is quick), accumulates up to ``BatchSize`` messages
(ReceiveMessage returns at most 10) for at most ``MaximumBatchingWindowInSeconds``, invokes the
function with real SQS records and deletes what succeeded. With ``ReportBatchItemFailures`` the
listed ``itemIdentifier``s stay; an exception or a malformed response fails the whole batch.

Deviation from AWS: a failed message is made visible again after ``retry_delay_s`` (1 s) rather
than after the queue's visibility timeout, so local retries are quick. Dead-lettering is left to
the queue's RedrivePolicy: moto's ReceiveMessage moves a message whose receive count has reached
``maxReceiveCount`` to the dead-letter queue, as SQS does, so the poller never sees it again.

DynamoDB streams: a poller reads each shard of the table's stream in order (DescribeStream,
GetShardIterator from ``StartingPosition``, GetRecords 4 times a second when idle, as Lambda
does), drops the records that match none of the ``FilterCriteria`` patterns (``filters.py``; they
do not count toward the batch), gathers up to ``BatchSize`` (default 100) for at most the
batching window, and invokes the function with Lambda's DynamoDB stream records. A failure is
retried from the first failed record: with ``ReportBatchItemFailures`` the lowest sequence
number the function names (the records before it are done), otherwise (an exception, a
malformed response) the whole batch, which ``BisectBatchOnFunctionError`` splits in two first.
After ``MaximumRetryAttempts`` retries (default -1: forever) the records are discarded with an
error in the log; Lambda would send their description to the on-failure destination, which is
not emulated (nor ``MaximumRecordAgeInSeconds``, ``ParallelizationFactor``, tumbling windows).
Retries come after ``retry_delay_s`` (1 s). The position in the stream lives in the poller only:
the stack reads every stream from its StartingPosition at each start, and the stream holds that
run's records only (restored items make none), so TRIM_HORIZON is right after a restart too;
records not delivered at shutdown are lost with the stream.

At shutdown the stack sets ``draining``: the pollers stop waiting for batching windows, so the
queues empty and the streams are read to their end as fast as the functions can take them,
before the stack saves its state.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .filters import FilterError, matches_any, parse_pattern
from .template import Template, TemplateError

logger = logging.getLogger("tollgate.local.esm")

_MAX_RECEIVE = 10  # SQS ReceiveMessage limit
_LONG_POLL_S = 1
_WINDOW_POLL_S = 0.05  # pause between empty receives while a batching window is open


@dataclass(frozen=True)
class SqsMapping:
    """One function ``SQS`` event."""

    function_id: str
    event_id: str
    queue_arn: str
    batch_size: int = 10
    window_s: float = 0.0
    report_batch_item_failures: bool = False
    enabled: bool = True

    @property
    def name(self) -> str:
        return f"{self.function_id}.{self.event_id}"


def sqs_mappings(template: Template) -> list[SqsMapping]:
    """Every ``SQS`` event of every function in the template."""
    mappings = []
    for function in template.functions().values():
        for event_id, event in function.events.items():
            if event.get("Type") != "SQS":
                continue
            props = template.resolve(event.get("Properties") or {})
            mappings.append(
                SqsMapping(
                    function_id=function.logical_id,
                    event_id=event_id,
                    queue_arn=props["Queue"],
                    batch_size=int(props.get("BatchSize", 10)),
                    window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    enabled=props.get("Enabled", True) in (True, "true"),
                )
            )
    return mappings


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received message as a Lambda SQS event record."""
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])],
            "dataType": value["DataType"],
        }
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def reported_failures(response: Any, item_ids: list[str]) -> set[str] | None:
    """The ids a ReportBatchItemFailures response names (message ids, or a stream's sequence
    numbers); None when it is malformed, which Lambda treats as a failure of the whole batch."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in item_ids:
            return None  # Lambda treats an unknown or empty identifier as a total failure
        failed.add(identifier)
    return failed


def failed_ids(response: Any, message_ids: list[str]) -> set[str]:
    """The message ids a ReportBatchItemFailures response names; all of them if it is malformed."""
    failed = reported_failures(response, message_ids)
    return set(message_ids) if failed is None else failed


class SqsPoller(threading.Thread):
    """Feeds one queue to one function until ``stop`` is set."""

    def __init__(
        self,
        mapping: SqsMapping,
        invoke: Callable[[dict[str, Any]], Any],
        sqs: Any,
        stop: threading.Event,
        *,
        region: str,
        retry_delay_s: int = 1,
    ) -> None:
        super().__init__(name=f"sqs-poller-{mapping.name}", daemon=True)
        self.mapping = mapping
        self.invoke = invoke
        self.sqs = sqs
        self.stop_event = stop
        self.region = region
        self.retry_delay_s = retry_delay_s
        self.draining = threading.Event()
        queue_name = mapping.queue_arn.rsplit(":", 1)[-1]
        self.queue_url: str = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                if not self.poll_once() and self.draining.is_set():
                    self.stop_event.wait(_WINDOW_POLL_S)
            except Exception:
                logger.exception("poller %s failed; retrying", self.mapping.name)
                self.stop_event.wait(1)

    def poll_once(self) -> int:
        """Receive one batch (possibly empty), invoke the function, settle the messages."""
        batch = self._receive_batch()
        if batch:
            self._process(batch)
        return len(batch)

    def _receive_batch(self) -> list[dict[str, Any]]:
        mapping = self.mapping
        batch: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(batch) < mapping.batch_size and not self.stop_event.is_set():
            wait = _LONG_POLL_S if deadline is None and not self.draining.is_set() else 0
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(_MAX_RECEIVE, mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch += received
            if deadline is None:
                if not batch:
                    return batch  # long poll ended empty: let run() check the stop event
                if mapping.window_s <= 0 or self.draining.is_set():
                    return batch
                deadline = time.monotonic() + mapping.window_s
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.draining.is_set():
                break
            if not received:
                self.stop_event.wait(min(_WINDOW_POLL_S, remaining))
        return batch

    def _process(self, batch: list[dict[str, Any]]) -> None:
        records = [_record(message, self.mapping.queue_arn, self.region) for message in batch]
        ids = [record["messageId"] for record in records]
        try:
            response = self.invoke({"Records": records})
            failed = failed_ids(response, ids) if self.mapping.report_batch_item_failures else set()
        except Exception:
            logger.exception("%s failed on a batch of %d", self.mapping.function_id, len(batch))
            failed = set(ids)
        done = [m for m in batch if m["MessageId"] not in failed]
        retry = [m for m in batch if m["MessageId"] in failed]
        for start in range(0, len(done), _MAX_RECEIVE):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + _MAX_RECEIVE])
                ],
            )
        for start in range(0, len(retry), _MAX_RECEIVE):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_delay_s}
                    for i, m in enumerate(retry[start : start + _MAX_RECEIVE])
                ],
            )


# ------------------------------------------------------------------ DynamoDB streams
_STREAM_READ_LIMIT = 1000  # GetRecords' maximum
_IDLE_POLL_S = 0.25  # Lambda reads a shard 4 times a second
_STREAM_WINDOW_POLL_S = 0.1  # pause between empty reads while a batching window is open
_SHARD_REFRESH_S = 10.0
_STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
_NOT_EMULATED = (
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
)


@dataclass(frozen=True)
class DynamoDbStreamMapping:
    """One function ``DynamoDB`` event."""

    function_id: str
    event_id: str
    stream_arn: str
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 100
    window_s: float = 0.0
    report_batch_item_failures: bool = False
    max_retries: int = -1  # -1: retry until the records leave the stream, Lambda's default
    bisect_on_error: bool = False
    filters: tuple[dict[str, Any], ...] = ()  # parsed FilterCriteria patterns; none: every record
    enabled: bool = True

    @property
    def name(self) -> str:
        return f"{self.function_id}.{self.event_id}"


def stream_mappings(template: Template) -> list[DynamoDbStreamMapping]:
    """Every ``DynamoDB`` event of every function in the template. ``Stream: !GetAtt T.StreamArn``
    resolves once the tables exist (``resources.create_tables``)."""
    mappings = []
    for function in template.functions().values():
        for event_id, event in function.events.items():
            if event.get("Type") != "DynamoDB":
                continue
            name = f"{function.logical_id}.{event_id}"
            props = template.resolve(event.get("Properties") or {})
            position = props.get("StartingPosition")
            if position not in _STARTING_POSITIONS:
                raise TemplateError(f"{name}: StartingPosition is {position!r}; DynamoDB takes TRIM_HORIZON or LATEST")
            try:
                filters = tuple(
                    parse_pattern(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])
                )
            except FilterError as error:
                raise TemplateError(f"{name}: {error}") from error
            if ignored := [key for key in _NOT_EMULATED if key in props]:
                logger.warning("%s: %s not emulated by the local stack", name, ", ".join(ignored))
            mappings.append(
                DynamoDbStreamMapping(
                    function_id=function.logical_id,
                    event_id=event_id,
                    stream_arn=props["Stream"],
                    starting_position=position,
                    batch_size=int(props.get("BatchSize", 100)),
                    window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    max_retries=int(props.get("MaximumRetryAttempts", -1)),
                    bisect_on_error=props.get("BisectBatchOnFunctionError", False) in (True, "true"),
                    filters=filters,
                    enabled=props.get("Enabled", True) in (True, "true"),
                )
            )
    return mappings


def stream_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 parses it) as a Lambda DynamoDB stream event record:
    creation time in epoch seconds, binary values base64-encoded, as Lambda serializes them."""
    dynamodb = dict(raw["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    record = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": _json_ready(dynamodb),
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:
        record["userIdentity"] = raw["userIdentity"]
    return record


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    position: str  # where reading starts: the mapping's StartingPosition, or TRIM_HORIZON for a later shard
    iterator: str | None = None
    last_read: str | None = None  # sequence number of the last record read (delivered, pending or filtered out)
    pending: list[dict[str, Any]] = field(default_factory=list)  # read, matched, not yet in a batch
    closed: bool = False  # GetRecords gave no next iterator: the shard is read to its end

    @property
    def finished(self) -> bool:
        return self.closed and not self.pending


class StreamPoller(threading.Thread):
    """Feeds one table's stream to one function until ``stop`` is set."""

    def __init__(
        self,
        mapping: DynamoDbStreamMapping,
        invoke: Callable[[dict[str, Any]], Any],
        streams: Any,
        stop: threading.Event,
        *,
        region: str,
        retry_delay_s: float = 1.0,
        idle_s: float = _IDLE_POLL_S,
    ) -> None:
        super().__init__(name=f"stream-poller-{mapping.name}", daemon=True)
        self.mapping = mapping
        self.invoke = invoke
        self.streams = streams
        self.stop_event = stop
        self.region = region
        self.retry_delay_s = retry_delay_s
        self.idle_s = idle_s
        self.draining = threading.Event()
        self.caught_up_at: float | None = None  # when the last poll that found nothing new began
        self.discarded = 0  # records given up on after MaximumRetryAttempts
        self._shards: dict[str, _Shard] = {}
        self._shards_listed_at: float | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                read, _ = self._poll()
                if not read:
                    self.stop_event.wait(_STREAM_WINDOW_POLL_S if self.draining.is_set() else self.idle_s)
            except Exception:
                logger.exception("stream poller %s failed; retrying", self.mapping.name)
                self.stop_event.wait(1)

    def poll_once(self) -> int:
        """Read every readable shard and deliver at most one batch from each (retries included);
        returns the number of records in the batches."""
        return self._poll()[1]

    def _poll(self) -> tuple[int, int]:
        began = time.monotonic()
        self._list_shards()
        read = delivered = 0
        for shard in self._readable_shards():
            batch, shard_read = self._collect(shard)
            read += shard_read
            if batch and not self.stop_event.is_set():
                self._deliver(batch)
                delivered += len(batch)
        if not read and not any(shard.pending for shard in self._shards.values()):
            self.caught_up_at = began
        return read, delivered

    # -------------------------------------------------------------- shards
    def _list_shards(self) -> None:
        """DescribeStream (every page) now and then; a shard found at start begins at the
        mapping's StartingPosition, one that appears later at its first record."""
        now = time.monotonic()
        if self._shards_listed_at is not None and now - self._shards_listed_at < _SHARD_REFRESH_S:
            return
        first = self._shards_listed_at is None
        listed: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.mapping.stream_arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            listed += description.get("Shards", [])
            if not description.get("LastEvaluatedShardId"):
                break
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
        for entry in listed:
            if entry["ShardId"] not in self._shards:
                position = self.mapping.starting_position if first else "TRIM_HORIZON"
                shard = _Shard(entry["ShardId"], entry.get("ParentShardId"), position)
                shard.iterator = self._iterator(shard)  # now: LATEST means from the poller's start
                self._shards[shard.shard_id] = shard
        self._shards_listed_at = now

    def _readable_shards(self) -> list[_Shard]:
        """Shards not finished whose parent is finished or gone: a child is read after its parent."""
        return [
            shard
            for shard in self._shards.values()
            if not shard.finished and (shard.parent_id not in self._shards or self._shards[shard.parent_id].finished)
        ]

    def _iterator(self, shard: _Shard) -> str:
        """An iterator just after the last record read, or at the shard's starting position."""
        request = {"StreamArn": self.mapping.stream_arn, "ShardId": shard.shard_id}
        if shard.last_read is not None:
            request |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_read}
        else:
            request["ShardIteratorType"] = shard.position
        return str(self.streams.get_shard_iterator(**request)["ShardIterator"])

    def _read(self, shard: _Shard) -> int:
        """One GetRecords: the records matching the filters join ``pending``; returns how many were read."""
        if shard.iterator is None:
            shard.iterator = self._iterator(shard)
        try:
            response = self.streams.get_records(ShardIterator=shard.iterator, Limit=_STREAM_READ_LIMIT)
        except Exception:
            shard.iterator = None  # expired or unknown: a new one after the last record read
            raise
        shard.iterator = response.get("NextShardIterator")
        shard.closed = shard.iterator is None
        records = response.get("Records", [])
        for raw in records:
            record = stream_record(raw, self.mapping.stream_arn, self.region)
            shard.last_read = record["dynamodb"]["SequenceNumber"]
            if matches_any(self.mapping.filters, record):
                shard.pending.append(record)
        return len(records)

    # -------------------------------------------------------------- batches
    def _collect(self, shard: _Shard) -> tuple[list[dict[str, Any]], int]:
        """The next batch of the shard (up to BatchSize matching records, gathered for up to the
        batching window once the first one is there) and how many records were read for it."""
        size = self.mapping.batch_size
        read = self._read(shard) if not shard.closed else 0
        if not shard.pending:
            return [], read
        deadline = time.monotonic() + self.mapping.window_s
        full = read == _STREAM_READ_LIMIT
        while len(shard.pending) < size and not shard.closed and not self.stop_event.is_set():
            if not full:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.draining.is_set():
                    break
                self.stop_event.wait(min(_STREAM_WINDOW_POLL_S, remaining))
            got = self._read(shard)
            read += got
            full = got == _STREAM_READ_LIMIT
        batch, shard.pending = shard.pending[:size], shard.pending[size:]
        return batch, read

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke until every record is done or given up on, in order, as Lambda does for a shard.

        A failure retries from the first failed record (the lowest sequence number the function
        reported; the whole batch after an exception or a malformed response). With
        BisectBatchOnFunctionError a whole-batch failure splits the batch in two, which does not
        count as a retry; after MaximumRetryAttempts the records are discarded, with an error."""
        work: deque[tuple[list[dict[str, Any]], int]] = deque([(batch, 0)])  # (records, retries so far)
        while work and not self.stop_event.is_set():
            records, retries = work.popleft()
            failed_at, whole = self._invoke(records)
            if failed_at is None:
                continue
            if whole and self.mapping.bisect_on_error and len(records) > 1:
                middle = len(records) // 2
                work.extendleft([(records[middle:], retries), (records[:middle], retries)])
                continue
            records = records[failed_at:]
            if 0 <= self.mapping.max_retries <= retries:
                self.discarded += len(records)
                logger.error(
                    "%s: discarding %d stream records (sequence numbers %s to %s) after %d retries; "
                    "Lambda would send their description to the mapping's on-failure destination",
                    self.mapping.name,
                    len(records),
                    records[0]["dynamodb"]["SequenceNumber"],
                    records[-1]["dynamodb"]["SequenceNumber"],
                    retries,
                )
                continue
            self.stop_event.wait(self.retry_delay_s)
            work.appendleft((records, retries + 1))

    def _invoke(self, records: list[dict[str, Any]]) -> tuple[int | None, bool]:
        """(index of the first record to retry, or None if all are done; whether the whole batch failed)."""
        try:
            response = self.invoke({"Records": records})
        except Exception:
            logger.exception("%s failed on a batch of %d stream records", self.mapping.function_id, len(records))
            return 0, True
        if not self.mapping.report_batch_item_failures:
            return None, False
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
        failed = reported_failures(response, sequence_numbers)
        if failed is None:
            logger.error("%s: malformed batchItemFailures; the whole batch failed", self.mapping.function_id)
            return 0, True
        if not failed:
            return None, False
        return min(sequence_numbers.index(number) for number in failed), False
