"""The usage queue and the queue monitor, in memory."""

from __future__ import annotations

from collections.abc import Sequence

from tollgate.services.ports import SendReport

BATCH_ENTRIES = 10  # SendMessageBatch's limit, for ``calls``
BILLING_CHUNK = 64 * 1024


class FakeUsageQueue:
    """``ports.UsageQueue``. ``bodies`` holds every body the queue took, in order; ``sends``
    each call's bodies. Refusals stand for entries SQS still refused after the adapter's
    retries: ``refuse_positions`` (positions within a ``send`` call) or ``refuse_all``."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.sends: list[list[str]] = []
        self.refuse_positions: set[int] = set()
        self.refuse_all = False
        self.error_code = "ServiceUnavailable"

    def send(self, bodies: Sequence[str]) -> SendReport:
        bodies = list(bodies)
        self.sends.append(bodies)
        report = SendReport()
        for i, body in enumerate(bodies):
            if self.refuse_all or i in self.refuse_positions:
                report.failed.append(i)
                report.last_error = self.error_code
            else:
                report.sent.append(i)
                self.bodies.append(body)
        report.calls = -(-len(bodies) // BATCH_ENTRIES)
        for start in range(0, len(bodies), BATCH_ENTRIES):
            size = sum(len(b) for b in bodies[start : start + BATCH_ENTRIES])
            report.billed += max(1, -(-size // BILLING_CHUNK))
        return report


class FakeQueueMonitor:
    """``ports.QueueMonitor``: ``depths[url]`` is what ``depth(url)`` answers; an unknown
    queue is an error, as SQS's QueueDoesNotExist is."""

    def __init__(self, depths: dict[str, int] | None = None) -> None:
        self.depths: dict[str, int] = dict(depths or {})
        self.asked: list[str] = []

    def depth(self, queue_url: str) -> int:
        self.asked.append(queue_url)
        if queue_url not in self.depths:
            raise LookupError(f"no queue {queue_url!r}")
        return self.depths[queue_url]
