"""What the flusher does with an answer for a batch, pure apart from logging: count it,
requeue the events the API could not queue (``retryable``), and report the others. Shared
by the sync and async clients, which call it under their own lock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ._buffer import Buffer, Pending
from .errors import ProblemError
from .models import IngestResult

logger = logging.getLogger("tollgate.client")


@dataclass(frozen=True)
class RejectedEvent:
    """An event the API refused for good: fix it and track it again (same id, or a new one)."""

    id: str
    event: bytes  # the event's JSON as sent
    status: int  # 202 (one event of the batch) or the status that refused the whole batch
    errors: list[dict[str, str]] = field(default_factory=list)
    index: int | None = None


OnRejected = Callable[[list[RejectedEvent]], object]


def settle(buffer: Buffer, batch: list[Pending], result: IngestResult) -> tuple[list[RejectedEvent], int]:
    """Apply a 202 to the buffer: the rejected events (for good), and how many were requeued.
    The batch stays in flight until the caller has reported and calls ``buffer.settled()``,
    so a ``flush`` returns after the ``on_rejected`` callback ran."""
    again: list[Pending] = []
    refused: list[RejectedEvent] = []
    for r in result.rejected:
        if not 0 <= r.index < len(batch):
            logger.error("the API rejected an event at index %d of a batch of %d", r.index, len(batch))
            continue
        if r.retryable:
            again.append(batch[r.index])
        else:
            errors = [e.model_dump() for e in r.errors]
            refused.append(RejectedEvent(batch[r.index].id, batch[r.index].body, 202, errors, r.index))
    counts = buffer.counts
    counts["sent"] += result.accepted
    counts["duplicates"] += result.duplicates
    counts["rejected"] += len(refused)
    counts["retries"] += len(again)
    counts["batches"] += 1
    buffer.requeue(again)
    return refused, len(again)


def refuse(buffer: Buffer, batch: list[Pending], error: ProblemError) -> list[RejectedEvent]:
    """The API refused the whole batch (401, 403, 413, 422 ...): not retried."""
    buffer.counts["rejected"] += len(batch)
    buffer.counts["batches"] += 1
    return [RejectedEvent(p.id, p.body, error.status, error.errors) for p in batch]


def report(rejected: list[RejectedEvent], callback: OnRejected | None, error: ProblemError | None = None) -> None:
    """Log (never the key, never the event's data) and call the application's callback."""
    if not rejected:
        return
    if error is not None:
        logger.error(
            "the API refused a batch of %d events: %s (%s); not retried",
            len(rejected),
            error.title or error.status,
            error.detail,
        )
    for r in rejected[:20] if error is None else ():
        logger.warning("the API rejected event %s (index %s): %s", r.id, r.index, r.errors)
    if error is None and len(rejected) > 20:
        logger.warning("... and %d more rejected events in the same batch", len(rejected) - 20)
    if callback is not None:
        try:
            callback(rejected)
        except Exception:  # the application's callback must not kill the flusher
            logger.exception("the on_rejected callback failed")


class DropWarning:
    """Counts events dropped on overflow and logs a WARNING at most every ``every`` seconds."""

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.since_log = 0
        self.last: float | None = None

    def dropped(self) -> None:
        self.since_log += 1
        now = self.clock()
        if self.last is None or now - self.last >= self.every:
            logger.warning(
                "tollgate client buffer full: dropped %d event(s) (overflow='drop'); see stats.dropped",
                self.since_log,
            )
            self.last, self.since_log = now, 0
