"""The usage queue: packing accepted events into usage message bodies
(``tollgate.wire.usage_message``), and sending them with SendMessageBatch, retrying the
entries SQS did not take.

Limits (conservative on purpose):
- a message body is at most ``MAX_MESSAGE_BYTES`` (240 KiB). SQS has taken 1 MiB since 2025,
  but a queue keeps the ``MaximumMessageSize`` it was created with (256 KiB on older queues),
  and the consumer's raw-event chunks must fit a 400 KB DynamoDB item;
- a SendMessageBatch holds at most 10 entries and ``MAX_BATCH_BYTES`` (256 KiB) in total, the
  limit SQS had for years and still the one older documentation and regions state. moto
  enforces 1 MiB per message and per batch, so these are our own checks (tested).
SQS bills each 64 KiB of a request as one request; ``billed_requests`` counts that.

Bodies are ASCII (``\\uXXXX`` escapes), so ``len()`` is the byte size SQS measures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tollgate.services.ports import SendReport

MAX_BATCH_BYTES = 256 * 1024
MAX_BATCH_ENTRIES = 10
SQS_BILLING_CHUNK = 64 * 1024
ATTEMPTS = 3
BACKOFF_SECONDS = (0.05, 0.2)  # before the 2nd and 3rd attempt


def batches(
    sizes: Sequence[int], max_entries: int = MAX_BATCH_ENTRIES, max_bytes: int = MAX_BATCH_BYTES
) -> list[list[int]]:
    """Group message positions into SendMessageBatch calls (in order, greedy)."""
    out: list[list[int]] = []
    current: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if current and (len(current) == max_entries or total + size > max_bytes):
            out.append(current)
            current, total = [], 0
        current.append(i)
        total += size
    if current:
        out.append(current)
    return out


def billed_requests(sizes: Iterable[int]) -> int:
    """What SQS bills for sending these bodies as one request: each 64 KiB is one request."""
    return max(1, -(-sum(sizes) // SQS_BILLING_CHUNK))


# ------------------------------------------------------------------ sending
class UsageQueue:
    """SendMessageBatch with bounded retries of the failed entries. A call that raises (timeout,
    throttling after the SDK's own retries) counts as every entry of it failing; a retry may
    then duplicate a message SQS did take, which the consumer's per-event dedupe absorbs."""

    def __init__(
        self,
        client: Any,
        queue_url: str,
        *,
        attempts: int = ATTEMPTS,
        backoff: Sequence[float] = BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ):
        self.client = client
        self.queue_url = queue_url
        self.attempts = attempts
        self.backoff = tuple(backoff)
        self.sleep = sleep
        self.max_batch_bytes = max_batch_bytes

    def send(self, bodies: Sequence[str]) -> SendReport:
        report = SendReport()
        pending = list(range(len(bodies)))
        for attempt in range(self.attempts):
            if not pending:
                break
            if attempt:
                self.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)] if self.backoff else 0)
            retry: list[int] = []
            for group in batches([len(bodies[i]) for i in pending], max_bytes=self.max_batch_bytes):
                positions = [pending[g] for g in group]
                refused, fatal = self._send_batch(bodies, positions, report)
                report.sent.extend(p for p in positions if p not in refused and p not in fatal)
                retry.extend(refused)
                report.failed.extend(fatal)
            pending = retry
        report.failed.extend(pending)
        report.sent.sort()
        report.failed.sort()
        return report

    def _send_batch(self, bodies: Sequence[str], positions: list[int], report: SendReport) -> tuple[set[int], set[int]]:
        """(positions to retry, positions that will never succeed)."""
        entries = [{"Id": str(n), "MessageBody": bodies[p]} for n, p in enumerate(positions)]
        report.calls += 1
        report.billed += billed_requests(len(bodies[p]) for p in positions)
        try:
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception as exc:  # noqa: BLE001 - any failure of the call: retry the whole batch
            report.last_error = type(exc).__name__
            return set(positions), set()
        refused: set[int] = set()
        fatal: set[int] = set()
        for failure in response.get("Failed") or ():
            position = positions[int(failure["Id"])]
            report.last_error = str(failure.get("Code") or "Failed")
            (fatal if failure.get("SenderFault") else refused).add(position)
        returned = {int(s["Id"]) for s in response.get("Successful") or ()}
        for n, p in enumerate(positions):  # neither successful nor failed: treat as not sent
            if n not in returned and p not in refused and p not in fatal:
                refused.add(p)
        return refused, fatal


def sqs_client(region: str, endpoint_url: str | None = None) -> Any:
    """A botocore SQS client (botocore is already loaded by pynamodb; boto3 adds ~40 ms of
    imports). The SDK retries throttling and 5xx once more on its own; entries SQS refuses
    are retried by ``UsageQueue``."""
    import botocore.session  # noqa: PLC0415 - only the ingest function sends; kept off other imports
    from botocore.config import Config  # noqa: PLC0415

    session = botocore.session.get_session()
    config = Config(
        region_name=region,
        retries={"mode": "standard", "max_attempts": 2},
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
    )
    return session.create_client("sqs", region_name=region, endpoint_url=endpoint_url, config=config)


class SqsQueueMonitor:
    """``services.ports.QueueMonitor`` on SQS queue attributes."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def depth(self, queue_url: str) -> int:
        attrs = self.client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
