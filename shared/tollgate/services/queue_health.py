"""The scheduled health job: how far behind the usage queue is, whether anything has been
dead-lettered (each dead letter is usage not yet counted: a message that could not even be
decoded), and how many events the consumer quarantined today (UTC): accepted events it could
not count, listed by ``GET /v1/events/rejected``."""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3

from tollgate.adapters.quarantine import QuarantineStore

from . import clock


@dataclass(frozen=True)
class QueueHealth:
    backlog: int  # visible + in flight on the usage queue
    dead_letters: int
    quarantined_today: int = 0

    @property
    def healthy(self) -> bool:
        return self.dead_letters == 0 and self.quarantined_today == 0


def _depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))


def check_queues(sqs=None, quarantine: QuarantineStore | None = None) -> QueueHealth:
    sqs = sqs or boto3.client("sqs")
    return QueueHealth(
        backlog=_depth(sqs, os.environ["USAGE_QUEUE_URL"]),
        dead_letters=_depth(sqs, os.environ["USAGE_DLQ_URL"]),
        quarantined_today=(quarantine or QuarantineStore()).count_on(clock.now().date().isoformat()),
    )
