"""Ingest: validate a request's usage events and put the valid ones on the usage queue.

A 2xx is sent only for events SQS has accepted. Events whose messages SQS still refuses after
the retries are reported back as rejected with ``retryable`` true ("send again", same ids); when nothing could be queued the
request fails with 503 and Retry-After, so a client retries the whole request. Counting, and
dedupe across requests, happen later in the consumer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tollgate.domain.errors import FieldError, TollgateError, ValidationFailed
from tollgate.domain.events import Batch, EventValidator, Rejected
from tollgate.domain.keys import Principal, Scope
from tollgate.wire.repack import counted_as_is
from tollgate.wire.usage_message import Packed, pack

from .catalog import Catalog
from .ports import Clock, SendReport, UsageQueue

RETRY_AFTER_SECONDS = 2
QUEUE_FAILED = "could not be queued (the queue is unavailable); send this event again"


class NoValidEvents(ValidationFailed):
    """422: not one event of the request is valid; ``errors`` holds every event's errors."""

    def __init__(self, batch: Batch):
        super().__init__(_summary(batch), batch.errors())
        self.rejected = len(batch.rejected)


class QueueUnavailable(TollgateError):
    status, slug, title = 503, "service-unavailable", "Temporarily unavailable"
    retry_after = RETRY_AFTER_SECONDS


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[Rejected] = field(default_factory=list)
    messages: int = 0  # SQS messages sent
    sqs_calls: int = 0  # SendMessageBatch requests
    sqs_billed: int = 0  # SQS requests billed (64 KiB chunks)
    queue_failed: int = 0  # events refused by SQS after the retries

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }


# ------------------------------------------------------------------ the service
class IngestService:
    def __init__(
        self, catalog: Catalog, queue: UsageQueue, clock: Clock, *, pack_queue: UsageQueue | None = None
    ) -> None:
        """``pack_queue``: where small messages go to be folded (``tollgate.wire.repack``);
        without it every message goes to ``queue``."""
        self._catalog, self._queue, self._clock = catalog, queue, clock
        self._pack_queue = pack_queue

    def validate(self, principal: Principal, raw_events: list[Any], now: datetime | None = None) -> Batch:
        """Validate the raw events of a request (``tollgate.api.cloudevents.read_body``)."""
        validator = EventValidator(
            now=now or self._clock.now(),
            own_tenant=principal.tenant_id if principal.scope is Scope.TENANT else None,
            timezone_of=self._catalog.timezone_of,
            meter_of=self._catalog.meter_spec,
        )
        return validator.validate(raw_events)

    def ingest(self, principal: Principal, raw_events: list[Any], now: datetime | None = None) -> IngestResult:
        """Validate the events of one request and queue the valid ones.

        Raises NoValidEvents (422) when no event is valid, with every event's errors;
        QueueUnavailable (503) when valid events exist but none could be queued."""
        batch = self.validate(principal, raw_events, now)
        if not batch.accepted:
            raise NoValidEvents(batch)
        by_tenant: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for event in batch.accepted:
            by_tenant[event.tenant].append((event.index, event.meter, event.encoded))
        messages = []
        for tenant, events in by_tenant.items():
            used = {meter for _, meter, _ in events}
            messages.extend(pack(tenant, batch.timezones[tenant], {k: batch.meters[k] for k in used}, events))
        report = self._send(messages)
        failed_indexes = {i for position in report.failed for i in messages[position].indexes}
        result = IngestResult(
            accepted=len(batch.accepted) - len(failed_indexes),
            duplicates=batch.duplicates,
            rejected=list(batch.rejected),
            messages=len(report.sent),
            sqs_calls=report.calls,
            sqs_billed=report.billed,
            queue_failed=len(failed_indexes),
        )
        if failed_indexes:
            _reject_unqueued(batch, failed_indexes, result, report.last_error)
        return result

    def _send(self, messages: list[Packed]) -> SendReport:
        """Large messages to the usage queue, small ones to the pack queue (when there is one):
        one report, in ``messages``' positions."""
        routes = [(self._queue, [i for i, m in enumerate(messages) if self._pack_queue is None or direct(m)])]
        if self._pack_queue is not None:
            routes.append((self._pack_queue, [i for i, m in enumerate(messages) if not direct(m)]))
        report = SendReport()
        for queue, positions in routes:
            if not positions:
                continue
            part = queue.send([messages[i].body for i in positions])
            report.sent += [positions[i] for i in part.sent]
            report.failed += [positions[i] for i in part.failed]
            report.calls += part.calls
            report.billed += part.billed
            report.last_error = part.last_error or report.last_error
        report.sent.sort()
        report.failed.sort()
        return report


def direct(message: Packed) -> bool:
    return counted_as_is(len(message.indexes), message.size)


def _reject_unqueued(batch: Batch, failed_indexes: set[int], result: IngestResult, last_error: str | None) -> None:
    for event in batch.accepted:
        if event.index in failed_indexes:
            errors = [FieldError(f"[{event.index}]", QUEUE_FAILED)]
            result.rejected.append(Rejected(event.index, event.id, errors, retryable=True))
    result.rejected.sort(key=lambda r: r.index)
    if result.accepted == 0:
        raise QueueUnavailable(
            f"none of the {len(failed_indexes)} valid events could be queued ({last_error}); "
            f"nothing was recorded; retry the request after {RETRY_AFTER_SECONDS} s",
            [e for r in result.rejected for e in r.errors],
        )


def _summary(batch: Batch) -> str:
    n = len(batch.rejected)
    first = "; ".join(f"{e.field}: {e.message}" for e in batch.errors()[:3])
    return f"{'the event is not' if n == 1 else f'none of the {n} events is'} valid: {first}"
