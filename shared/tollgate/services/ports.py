"""The ports: what the services need from the world, as typing Protocols, with the result
types they exchange. Adapters (``tollgate.adapters``) implement them on DynamoDB, SQS and the
rest; ``tests/fakes`` implements each in memory for the services' unit tests. The composition
root (``tollgate.wiring``) decides which implementation a service gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: the ports cost nothing at import
    from tollgate.adapters.commit_plan import CommitUnit
    from tollgate.adapters.event_log import LogChunk
    from tollgate.domain.audit import AuditEntry
    from tollgate.domain.counting import CounterKey, CounterUpdates, EventRef
    from tollgate.domain.decisions import DecisionDoc
    from tollgate.domain.plans import Limit, Plan
    from tollgate.domain.ratelimit import LeaseWrite
    from tollgate.domain.records import ApiKeyRecord, Meter, Tenant
    from tollgate.domain.unique_values import DayClaim, DayOwners, LifetimeClaim
    from tollgate.domain.usage import UsageEvent
    from tollgate.domain.usage_query import CounterCell


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, time-zone aware (UTC)."""


# ------------------------------------------------------------------ the catalog's repositories
class TenantRepository(Protocol):
    def get(self, tenant_id: str, consistent: bool = False) -> Tenant | None: ...
    def list(self, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]: ...
    def create(self, tenant: Tenant) -> None: ...
    def replace(self, tenant: Tenant) -> None: ...
    def create_audited(self, tenant: Tenant, entry: AuditEntry) -> None:
        """Create the tenant and its audit entry together; Conflict if it exists."""

    def replace_audited(self, tenant: Tenant, previous: Tenant, entry: AuditEntry) -> None:
        """Replace ``previous`` (Conflict if it changed meanwhile), with the audit entry."""


class MeterRepository(Protocol):
    def get(self, key: str) -> Meter | None: ...
    def list(self, limit: int, cursor: str | None) -> tuple[list[Meter], str | None]: ...
    def create(self, meter: Meter) -> None: ...


class PlanRepository(Protocol):
    def get(self, plan_id: str, consistent: bool = False) -> Plan | None: ...
    def list(self, limit: int, cursor: str | None) -> tuple[list[Plan], str | None]: ...
    def put(self, plan: Plan, previous: Plan | None, entry: AuditEntry) -> None: ...
    def create_if_absent(self, plan: Plan, entry: AuditEntry) -> bool: ...


class OverridesRepository(Protocol):
    def get(self, tenant_id: str, consistent: bool = False) -> tuple[tuple[Limit, ...], datetime | None]: ...
    def put(
        self,
        tenant_id: str,
        limits: tuple[Limit, ...],
        at: datetime,
        previous_at: datetime | None,
        entry: AuditEntry,
    ) -> None: ...


class ApiKeyRepository(Protocol):
    def get(self, key_id: str, consistent: bool = False) -> ApiKeyRecord | None: ...
    def list(self, limit: int, cursor: str | None) -> tuple[list[ApiKeyRecord], str | None]: ...
    def create(self, record: ApiKeyRecord) -> None: ...
    def revoke(self, record: ApiKeyRecord) -> None: ...


class AuditLog(Protocol):
    def list(self, subject: str, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
        """Newest first; ValueError for a cursor this log did not issue for ``subject``."""


# ------------------------------------------------------------------ counters (consume, quotas, usage)
CONSUME_MSG = "consume"
"""The ``msg`` of a dedupe marker written by /v1/consume. SQS message ids are UUIDs, never this."""


@dataclass(frozen=True)
class Marker:
    """An existing dedupe marker: who claimed the id, and (for consume) the decision."""

    claimed_by: str | None
    decision: DecisionDoc | None

    @property
    def by_consume(self) -> bool:
        return self.claimed_by == CONSUME_MSG


@dataclass(frozen=True)
class CounterValue:
    value: Decimal | None


@dataclass(frozen=True)
class CounterWrite:
    key: CounterKey
    amount: Decimal
    expires_at: int | None
    ceiling: Decimal | None  # hard limit: the stored value must be <= this
    expected: Decimal | None = None  # the stored value must be exactly this (0: or no value)


@dataclass(frozen=True)
class Committed:
    pass


@dataclass(frozen=True)
class Duplicate:
    marker: Marker | None  # None when the store did not return the item


@dataclass(frozen=True)
class CounterConflict:
    """Counters whose condition failed, as found: over a ceiling, or not the expected value."""

    values: dict[CounterKey, CounterValue]


@dataclass(frozen=True)
class Contended:
    codes: list[str]


CommitResult = Committed | Duplicate | CounterConflict | Contended


class CounterStore(Protocol):
    """The consume path's reads and its one transaction (marker + counters)."""

    def read(
        self, marker: tuple[str, str | None] | None, counters: Sequence[CounterKey]
    ) -> tuple[Marker | None, dict[CounterKey, CounterValue]]: ...
    def get_marker(self, tenant: str, event_id: str) -> Marker | None: ...
    def commit(
        self, tenant: str, event_id: str, decision: DecisionDoc, expires_at: int, writes: Sequence[CounterWrite]
    ) -> CommitResult: ...
    def put_marker(self, tenant: str, event_id: str, decision: DecisionDoc, expires_at: int) -> Marker | None:
        """Record a decision on the id's marker; the marker found instead when one exists."""


class CounterReader(Protocol):
    """Reads of stored counter windows (usage series now; invoices and analytics next)."""

    def totals(self, pk: str, low: str, high: str) -> list[CounterCell]:
        """The windows of counter partition ``pk`` whose keys are in ``[low, high]``."""

    def groups(self, pk: str, low: str, high: str) -> list[CounterCell]:
        """The group-by windows of ``pk`` in ``[low, high]``, each with its group value."""


# ------------------------------------------------------------------ the consumer
class CommitCancelled(Exception):
    """A commit transaction was cancelled. ``committed`` holds the markers that already
    existed (their units are durable: drop them); ``retryable`` says whether the rest may be
    tried again (conflict, throttling, or only already-committed markers)."""

    def __init__(self, committed: set[str], retryable: bool, codes: list[str]):
        super().__init__(f"transaction cancelled: {codes}")
        self.committed = committed
        self.retryable = retryable
        self.codes = codes


class StoreBusy(Exception):
    """A request the store throttled or could not serve now: nothing was written; retry."""


class StoreRefused(Exception):
    """A request the store refused as a whole (it is not valid): nothing was written."""


class EventLedger(Protocol):
    """The consumer's side of exactly-once counting (docs/storage.md)."""

    def owners(self, refs: Sequence[EventRef]) -> dict[EventRef, str]:
        """The owners of the events already claimed, by a read (eventually consistent: an
        event missing from the answer may still be claimed). Raises when the read fails."""

    def claim(
        self, claims: Sequence[tuple[EventRef, str, Sequence[str]]], now: datetime
    ) -> list[str | None | Exception]: ...
    def write_log(self, chunks: Sequence[LogChunk], now: datetime) -> list[Exception | None]: ...
    def committed_markers(self, marker_pks: Sequence[str]) -> set[str]: ...
    def commit(self, units: Sequence[CommitUnit], now: datetime) -> None:
        """One transaction. Raises CommitCancelled, StoreBusy or StoreRefused, or anything
        else when the outcome is unknown."""

    def claim_days(self, claims: Sequence[DayClaim], now: datetime) -> list[DayOwners | Exception]: ...
    def claim_lifetimes(self, claims: Sequence[LifetimeClaim], now: datetime) -> list[str | Exception]: ...
    def apply_idempotent(self, updates: CounterUpdates) -> dict[CounterKey, Exception]: ...


@dataclass(frozen=True)
class Quarantine:
    """An accepted event the consumer cannot count, with why."""

    tenant: str
    message_id: str
    event: UsageEvent
    reason: str


class QuarantineLog(Protocol):
    def put(self, entries: Sequence[Quarantine], now: datetime) -> list[Exception | None]: ...
    def count_on(self, utc_day: str) -> int: ...
    def list(self, tenant: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]: ...


class RawEventLog(Protocol):
    def list_events(
        self, tenant: str, start: datetime, end: datetime, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...


class DaySources(Protocol):
    """What the daily reconciliation reads of one tenant's local day (docs/reconciliation.md):
    the day counters, and the two records of what was counted into them, the raw-event log (the
    consumer) and the consume records (``POST /v1/consume``)."""

    def counted(self, tenant: str, meters: Sequence[str], day_key: str) -> dict[str, Decimal]:
        """The day totals' ``v`` (``T#<tenant>#<meter>#day`` / ``day_key``), read strongly
        consistent; 0 for a meter without one."""

    def consumed(self, tenant: str, meter: str, day_key: str) -> Decimal:
        """What ``POST /v1/consume`` added to that day total, summed from the consume markers
        (eventually consistent: a consume of the last second may be missing)."""

    def logged(self, tenant: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Every event of the tenant's raw-event log with ``start <= time < end``, in no
        particular order, in the usage message form (``id``, ``type``, ``time``, ``value``)."""


# ------------------------------------------------------------------ queues
@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)  # positions SQS took
    failed: list[int] = field(default_factory=list)  # positions still refused after the retries
    calls: int = 0  # SendMessageBatch requests
    billed: int = 0  # SQS requests billed (64 KiB chunks)
    last_error: str | None = None  # code of the last failure, for the log (never a body)


class UsageQueue(Protocol):
    def send(self, bodies: Sequence[str]) -> SendReport: ...


class QueueMonitor(Protocol):
    def depth(self, queue_url: str) -> int:
        """Messages visible plus in flight."""


# ------------------------------------------------------------------ rate limits
class BucketStore(Protocol):
    def write(self, key: str, write: LeaseWrite) -> tuple[bool, int | None]:
        """Apply ``write`` if its condition holds. Returns ``(True, new TAT)`` or
        ``(False, TAT found)`` (None when there is no item)."""


# ------------------------------------------------------------------ what comes next: alerts and invoices
class ActivityIndex(Protocol):
    """Which (tenant, meter) pairs had counters change in which UTC hour: what the scheduled
    jobs (the alert sweep, the reconciliation) read, so their cost grows with active pairs, not
    with tenants. The alert evaluator marks it (through ``services.activity.ActivityRecorder``);
    marks expire after 3 days."""

    def mark(self, hour: datetime, pairs: Iterable[tuple[str, str]]) -> None:
        """Record ``pairs`` (tenant, meter) active in the UTC hour holding ``hour``. Idempotent.
        Raises when the marks could not all be written (some may have been)."""

    def active(self, start: datetime, end: datetime) -> set[tuple[str, str]]:
        """Every pair marked in a UTC hour that overlaps ``[start, end)``."""


class Notifier(Protocol):
    """Publishes an event to operators and subscribers (SNS). ``dedupe_key`` names the event
    once and for all (an alert's identity): a publisher that retries passes the same key, and
    subscribers drop repeats by it."""

    def publish(self, event_type: str, payload: dict[str, Any], *, dedupe_key: str) -> str:
        """Returns the message id."""


class BlobStore(Protocol):
    """Documents such as invoices (S3)."""

    def put(self, key: str, body: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes | None:
        """None when there is no such object."""

    def link(self, key: str, expires_in_s: int) -> str:
        """A time-limited HTTPS link to the object, for a tenant to open."""
