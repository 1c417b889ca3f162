"""The scheduled health job: how far behind the usage queue is, and whether anything has
been dead-lettered (each dead letter is usage not yet counted)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3


@dataclass(frozen=True)
class QueueHealth:
    backlog: int  # visible + in flight on the usage queue
    dead_letters: int

    @property
    def healthy(self) -> bool:
        return self.dead_letters == 0


def _depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))


def check_queues(sqs=None) -> QueueHealth:
    sqs = sqs or boto3.client("sqs")
    return QueueHealth(
        backlog=_depth(sqs, os.environ["USAGE_QUEUE_URL"]),
        dead_letters=_depth(sqs, os.environ["USAGE_DLQ_URL"]),
    )
