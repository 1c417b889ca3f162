"""The scheduled health job: how far behind the usage and pack queues are, whether anything has been
dead-lettered (each dead letter is usage not yet counted: a message that could not even be
decoded), and how many events the consumer quarantined today (UTC): accepted events it could
not count, listed by ``GET /v1/events/rejected``."""

from __future__ import annotations

from dataclasses import dataclass

from .ports import Clock, QuarantineLog, QueueMonitor


@dataclass(frozen=True)
class QueueHealth:
    backlog: int  # visible + in flight on the usage queue and the pack queue
    dead_letters: int
    quarantined_today: int = 0

    @property
    def healthy(self) -> bool:
        return self.dead_letters == 0 and self.quarantined_today == 0


class QueueHealthService:
    def __init__(
        self,
        queues: QueueMonitor,
        quarantine: QuarantineLog,
        clock: Clock,
        *,
        usage_queue_url: str,
        dlq_url: str,
        pack_queue_url: str = "",
    ) -> None:
        self._queues, self._quarantine, self._clock = queues, quarantine, clock
        self._backlog_urls = [u for u in (usage_queue_url, pack_queue_url) if u]
        self._dlq_url = dlq_url

    def check(self) -> QueueHealth:
        return QueueHealth(
            backlog=sum(self._queues.depth(url) for url in self._backlog_urls),
            dead_letters=self._queues.depth(self._dlq_url),
            quarantined_today=self._quarantine.count_on(self._clock.now().date().isoformat()),
        )
