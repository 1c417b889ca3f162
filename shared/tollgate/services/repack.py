"""The repack stage: small usage messages in, large ones out (``tollgate.wire.repack``).

Ingest sends messages of fewer than ``repack.DIRECT_EVENTS`` events to the pack queue. The
repack function takes them in large batches, folds them per tenant into messages of up to
1,000 events, and sends those to the usage queue, where the consumer counts them at the cost
of large messages (docs/storage.md, "The repack stage").

A source record is acknowledged only when every folded message carrying its events was taken
by SQS; otherwise it fails, alone with the others of the messages that failed, and SQS delivers
it again. Sending a folded message twice (a source redelivered after its folded message was
sent) is safe: the consumer's event claims decide who counts each event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from tollgate.domain import counting
from tollgate.domain.usage import UsageMessage
from tollgate.wire.repack import fold

from .batch import RecordFailures
from .ports import UsageQueue

log = logging.getLogger(__name__)


@dataclass
class RepackOutcome(RecordFailures):
    sources: int = 0  # distinct source messages in the batch
    poison: int = 0
    events: int = 0  # events of the folded messages SQS took
    sent: int = 0  # folded messages SQS took


class RepackService:
    def __init__(self, usage_queue: UsageQueue) -> None:
        self._queue = usage_queue

    def repack_batch(self, event: dict[str, Any], *, metrics: Any = None) -> RepackOutcome:
        """Fold an SQS event's records and send the result. Never raises for a record: the
        outcome lists the failed ones, and its ``record_handler`` raises for them."""
        outcome = RepackOutcome()
        sources: list[tuple[str, UsageMessage]] = []
        seen: set[str] = set()
        for record in event.get("Records") or []:
            message_id = record["messageId"]
            if message_id in seen:
                continue
            seen.add(message_id)
            try:
                sources.append((message_id, counting.decode_message(record["body"])))
            except Exception as exc:  # noqa: BLE001 - any undecodable body is poison, and fails alone
                outcome.poison += 1
                outcome.fail(message_id, f"poison message: {type(exc).__name__}: {exc}")
                log.error("poison message", extra={"message_id": message_id, "error": str(exc)})
        outcome.sources = len(seen)
        folded = fold(sources)
        report = self._queue.send([f.body for f in folded])
        for position in report.failed:
            for message_id in folded[position].sources:
                outcome.fail(message_id, f"folded message not queued: {report.last_error}")
        for position in report.sent:
            outcome.sent += 1
            outcome.events += folded[position].events
        if report.failed:
            log.warning("folded messages not queued", extra={"failed": len(report.failed), "error": report.last_error})
        _emit(metrics, outcome)
        return outcome


def _emit(metrics: Any, outcome: RepackOutcome) -> None:
    if metrics is None:
        return
    for name, value in (
        ("MessagesFolded", outcome.sources - len(outcome.failed)),
        ("FoldedMessagesSent", outcome.sent),
        ("EventsFolded", outcome.events),
        ("PoisonMessages", outcome.poison),
        ("FailedMessages", len(outcome.failed) - outcome.poison),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
