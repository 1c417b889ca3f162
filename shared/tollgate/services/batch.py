"""Partial batch responses: the SQS records a batch could not finish, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RecordNotDone(Exception):
    """Raised by the record handler for a record whose message was not (fully) processed:
    ``process_partial_response`` reports it, and SQS delivers it again."""


@dataclass
class RecordFailures:
    failed: dict[str, str] = field(default_factory=dict)  # message id -> reason

    def fail(self, message_id: str, reason: str) -> None:
        self.failed.setdefault(message_id, reason)

    def record_handler(self, record: Any) -> None:
        message_id = record.message_id if hasattr(record, "message_id") else record["messageId"]
        if message_id in self.failed:
            raise RecordNotDone(self.failed[message_id])
