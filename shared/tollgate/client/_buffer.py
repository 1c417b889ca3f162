"""The buffer of tracked events, pure and single-threaded: the sync and async clients each
guard one with their own lock or loop. It holds the events queued and the batch being sent
(``in_flight``); both count against the capacity until the API has answered for them.

Each event gets a sequence number when tracked, and a batch is taken from the front. A batch's
events that must be sent again go back to the front, so the queue stays in sequence order and
``flush`` can wait for "every event up to sequence n is answered for".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ._encode import batch_bytes


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    id: str
    body: bytes


@dataclass(frozen=True)
class Stats:
    """A snapshot of a client's counters (events, unless named otherwise)."""

    tracked: int = 0  # taken by track (dropped ones excluded)
    sent: int = 0  # accepted by the API
    duplicates: int = 0  # repeats of an id within one request (queued once by the API)
    rejected: int = 0  # refused for good (validation, or the whole batch refused)
    dropped: int = 0  # refused by track: the buffer was full with overflow="drop"
    retries: int = 0  # events sent again: a batch after a transient failure, or retryable rejections
    batches: int = 0  # POST /v1/events requests answered
    pending: int = 0  # buffered or in flight now
    unsent: int = 0  # left undelivered when close's bound expired


class Buffer:
    def __init__(self, capacity: int, batch_size: int, max_bytes: int) -> None:
        if capacity < 1 or batch_size < 1:
            raise ValueError("buffer_capacity and batch_size must be at least 1")
        self.capacity = capacity
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.queue: deque[Pending] = deque()
        self.in_flight: list[Pending] = []
        self.last_seq = 0
        self.counts: dict[str, int] = dict.fromkeys(
            ("tracked", "sent", "duplicates", "rejected", "dropped", "retries", "batches", "unsent"), 0
        )

    # ---------------------------------------------------------------- tracking
    @property
    def pending(self) -> int:
        return len(self.queue) + len(self.in_flight)

    def has_room(self) -> bool:
        return self.pending < self.capacity

    def put(self, event_id: str, body: bytes) -> int:
        self.last_seq += 1
        self.queue.append(Pending(self.last_seq, event_id, body))
        self.counts["tracked"] += 1
        return self.last_seq

    # ---------------------------------------------------------------- flushing
    def full_batch_ready(self) -> bool:
        return len(self.queue) >= self.batch_size

    def take(self) -> list[Pending]:
        """The next batch: at most ``batch_size`` events and ``max_bytes`` once joined."""
        batch: list[Pending] = []
        size = 0
        while self.queue and len(batch) < self.batch_size:
            nxt = self.queue[0]
            if batch and batch_bytes(size + len(nxt.body), len(batch) + 1) > self.max_bytes:
                break
            batch.append(self.queue.popleft())
            size += len(nxt.body)
        self.in_flight = batch
        return batch

    def requeue(self, events: list[Pending]) -> None:
        """Events of the batch in flight to send again, at the front, in order."""
        self.queue.extendleft(reversed(events))

    def settled(self) -> None:
        """The batch in flight is answered for (what must be resent was requeued)."""
        self.in_flight = []

    def answered_up_to(self, seq: int) -> bool:
        """Whether every event tracked up to ``seq`` is answered for."""
        if self.in_flight:
            return self.in_flight[0].seq > seq  # the queue holds later events only
        return not self.queue or self.queue[0].seq > seq

    def abandon(self) -> int:
        """Give up on everything held (close's bound expired): counted as ``unsent``."""
        n = self.pending
        self.queue.clear()
        self.in_flight = []
        self.counts["unsent"] += n
        return n

    def stats(self) -> Stats:
        return Stats(pending=self.pending, **self.counts)
