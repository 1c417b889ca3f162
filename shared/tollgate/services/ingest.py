"""Ingest: validate a request's usage events and put the valid ones on the usage queue.

A 2xx is sent only for events SQS has accepted. Events whose messages SQS still refuses after
the retries are reported back as rejected ("send again"); when nothing could be queued the
request fails with 503 and Retry-After, so a client retries the whole request. Counting, and
dedupe across requests, happen later in the consumer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tollgate.adapters.queue import UsageQueue, pack, sqs_client
from tollgate.adapters.repos import MeterRepo, TenantRepo, TtlCache
from tollgate.config import settings
from tollgate.domain.errors import FieldError, TollgateError, ValidationFailed
from tollgate.domain.events import Batch, EventValidator, Rejected
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.meters import MeterSpec
from tollgate.domain.records import Meter, Tenant

from . import clock

CACHE_TTL_SECONDS = 30.0
RETRY_AFTER_SECONDS = 2
QUEUE_FAILED = "could not be queued (the queue is unavailable); send this event again"

_tenants = TenantRepo()
_meters = MeterRepo()
# Found tenants and meters are reused for 30 s per instance; misses are never cached, so a new
# tenant or meter is usable at once. (A meter's spec or a tenant's zone edited meanwhile
# applies within 30 s.)
tenant_cache = TtlCache[Tenant](_tenants.get, ttl=CACHE_TTL_SECONDS)
meter_cache = TtlCache[Meter](_meters.get, ttl=CACHE_TTL_SECONDS)


def reset_caches() -> None:
    tenant_cache.invalidate()
    meter_cache.invalidate()


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


# ------------------------------------------------------------------ the queue (lazy, per settings)
_queue: tuple[Any, UsageQueue] | None = None


def usage_queue() -> UsageQueue:
    """The queue of this instance's settings (tests clear settings between moto worlds)."""
    global _queue
    s = settings()
    if _queue is None or _queue[0] is not s:
        _queue = (s, UsageQueue(sqs_client(s.region), s.usage_queue_url))
    return _queue[1]


def _timezone_of(tenant_id: str) -> str | None:
    tenant = tenant_cache.get(tenant_id)
    return tenant.timezone if tenant else None


def _meter_of(key: str) -> MeterSpec | None:
    meter = meter_cache.get(key)
    return meter.spec() if meter else None


# ------------------------------------------------------------------ the use case
def validate(principal: Principal, raw_events: list[Any], now: datetime | None = None) -> Batch:
    """Validate the raw events of a request (``tollgate.api.cloudevents.read_body``)."""
    validator = EventValidator(
        now=now or clock.now(),
        own_tenant=principal.tenant_id if principal.scope is Scope.TENANT else None,
        timezone_of=_timezone_of,
        meter_of=_meter_of,
    )
    return validator.validate(raw_events)


def ingest(
    principal: Principal,
    raw_events: list[Any],
    now: datetime | None = None,
    queue: UsageQueue | None = None,
) -> IngestResult:
    """Validate the events of one request and queue the valid ones.

    Raises NoValidEvents (422) when no event is valid, with every event's errors;
    QueueUnavailable (503) when valid events exist but none could be queued."""
    batch = validate(principal, raw_events, now)
    if not batch.accepted:
        raise NoValidEvents(batch)

    by_tenant: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for event in batch.accepted:
        by_tenant[event.tenant].append((event.index, event.meter, event.encoded))
    messages = []
    for tenant, events in by_tenant.items():
        used = {meter for _, meter, _ in events}
        messages.extend(pack(tenant, batch.timezones[tenant], {k: batch.meters[k] for k in used}, events))

    report = (queue or usage_queue()).send([m.body for m in messages])
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
        for event in batch.accepted:
            if event.index in failed_indexes:
                result.rejected.append(Rejected(event.index, event.id, [FieldError(f"[{event.index}]", QUEUE_FAILED)]))
        result.rejected.sort(key=lambda r: r.index)
        if result.accepted == 0:
            raise QueueUnavailable(
                f"none of the {len(failed_indexes)} valid events could be queued ({report.last_error}); "
                f"nothing was recorded; retry the request after {RETRY_AFTER_SECONDS} s",
                [e for r in result.rejected for e in r.errors],
            )
    return result


def _summary(batch: Batch) -> str:
    n = len(batch.rejected)
    first = "; ".join(f"{e.field}: {e.message}" for e in batch.errors()[:3])
    return f"{'the event is not' if n == 1 else f'none of the {n} events is'} valid: {first}"
