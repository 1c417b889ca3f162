"""SQS -> Lambda event source mappings, emulated by one poller thread per ``SQS`` event.

A poller long-polls (1 s, so shutdown is quick), accumulates up to ``BatchSize`` messages
(ReceiveMessage returns at most 10) for at most ``MaximumBatchingWindowInSeconds``, invokes the
function with real SQS records and deletes what succeeded. With ``ReportBatchItemFailures`` the
listed ``itemIdentifier``s stay; an exception or a malformed response fails the whole batch.

Deviation from AWS: a failed message is made visible again after ``retry_delay_s`` (1 s) rather
than after the queue's visibility timeout, so local retries are quick. Dead-lettering is left to
the queue's RedrivePolicy: moto's ReceiveMessage moves a message whose receive count has reached
``maxReceiveCount`` to the dead-letter queue, as SQS does, so the poller never sees it again.

At shutdown the stack sets ``draining``: the poller stops waiting for batching windows, so the
queue empties as fast as the function can take it, before the stack saves its state.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .template import Template

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


def failed_ids(response: Any, message_ids: list[str]) -> set[str]:
    """The message ids a ReportBatchItemFailures response names; all of them if it is malformed."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set(message_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in message_ids:
            return set(message_ids)  # Lambda treats an unknown or empty identifier as a total failure
        failed.add(identifier)
    return failed


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
