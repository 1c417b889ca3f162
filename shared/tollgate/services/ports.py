"""The ports: what the services need from the world, as typing Protocols, with the result
types they exchange. Adapters (``tollgate.adapters``) implement them on DynamoDB, SQS and the
rest; ``tests/fakes`` implements each in memory for the services' unit tests. The composition
root (``tollgate.wiring``) decides which implementation a service gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: the ports cost nothing at import
    from tollgate.adapters.commit_plan import CommitUnit
    from tollgate.adapters.event_log import LogChunk
    from tollgate.domain.audit import AuditEntry
    from tollgate.domain.counting import CounterKey, CounterUpdates, EventRef
    from tollgate.domain.decisions import DecisionDoc
    from tollgate.domain.discounts import Discount
    from tollgate.domain.health import TenantHealth
    from tollgate.domain.invoices import InvoiceRun, InvoiceStatus, StoredInvoice, TransitionResult
    from tollgate.domain.plans import Limit, Plan
    from tollgate.domain.quota import Status
    from tollgate.domain.ratelimit import LeaseWrite
    from tollgate.domain.records import ApiKeyRecord, Meter, Tenant
    from tollgate.domain.subscriptions import Protocol as SubscriptionProtocol
    from tollgate.domain.subscriptions import Status as SubscriptionStatus
    from tollgate.domain.subscriptions import Subscription
    from tollgate.domain.tax import TaxRate
    from tollgate.domain.unique_values import DayClaim, DayOwners, LifetimeClaim
    from tollgate.domain.usage import UsageEvent
    from tollgate.domain.usage_query import CounterCell


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, time-zone aware (UTC)."""


# ------------------------------------------------------------------ the catalog's repositories
class TenantRepository(Protocol):
    def get(self, tenant_id: str, consistent: bool = False) -> Tenant | None: ...
    def get_many(self, tenant_ids: Sequence[str]) -> dict[str, Tenant]:
        """The tenants that exist among ``tenant_ids``, by id (one read per 100)."""

    def search(self, prefix: str, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
        """Tenants whose id, then whose name (and not id), starts with ``prefix``, ignoring
        case; ValueError for a cursor of another search."""

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


class BillingCatalogStore(Protocol):
    """Tax rates, discounts and each tenant's assigned discounts (the billing catalog table).
    Each discount carries ``assigned_tenants``, kept by ``set_tenant_discounts`` in the same
    write as the tenant's assignment."""

    def put_tax_rate(self, rate: TaxRate) -> TaxRate:
        """Create or replace; the stored rate (``created_at`` kept from the first put)."""
        ...

    def tax_rates(self) -> list[TaxRate]:
        """Every rate, by id."""
        ...

    def put_discount(self, discount: Discount) -> Discount:
        """Create or replace the definition; ``created_at`` and ``assigned_tenants`` are kept."""
        ...

    def get_discount(self, discount_id: str, consistent: bool = False) -> Discount | None: ...

    def discounts(self) -> list[Discount]:
        """Every discount, by id."""
        ...

    def tenant_discounts(self, tenant_id: str, consistent: bool = False) -> tuple[tuple[str, ...], datetime | None]:
        """The discount ids assigned to a tenant and when they last changed (``((), None)``: never)."""
        ...

    def set_tenant_discounts(
        self,
        tenant_id: str,
        ids: tuple[str, ...],
        previous: tuple[str, ...],
        at: datetime,
        previous_at: datetime | None,
        entry: AuditEntry,
    ) -> None:
        """Replace the tenant's assignment, move each changed discount's ``assigned_tenants``
        and write ``entry``, at once; Conflict if the assignment changed since ``previous_at``,
        ValidationFailed (``discount_ids``) if an added discount no longer exists."""
        ...


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
    """What the daily reconciliation reads of one tenant's local day (docs/alerts.md, "Reconciliation"):
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


# ------------------------------------------------------------------ alerts, and the invoices' documents
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
    """Publishes an event document to the operators' topic (SNS). The document names itself
    once and for all by ``id`` (an alert's identity): a publisher that retries sends the same
    id, and subscribers drop repeats by it. ``type``, and ``tenant_id`` and ``severity`` when
    present, become String message attributes, so SNS filter policies can select on them."""

    def publish(self, event: dict[str, Any], *, subject: str) -> str:
        """Returns the message id."""


@dataclass(frozen=True)
class NotificationPage:
    items: list[dict[str, Any]]  # alert documents plus ``read_at``
    next_cursor: str | None


class AlertStore(Protocol):
    """Alerts, stored once each, and the in-app notifications they are (adapters/notifications.py)."""

    def acquire(self, doc: dict[str, Any], now: datetime, lease_s: int) -> set[str] | None:
        """Store the alert if it is new, or lease a stored one never published whose lease ran
        out. The destinations it was already sent to when the caller must publish it now (then
        ``mark_sent`` each, and ``mark_published`` or ``release``); None when it must not."""

    def mark_sent(self, alert_id: str, destination: str) -> None: ...
    def release(self, alert_id: str) -> None: ...
    def mark_published(self, alert_id: str, now: datetime) -> None: ...
    def known(self, alert_ids: Sequence[str]) -> set[str]:
        """The ids already stored, by a read (eventually consistent)."""

    def unpublished(self, since: datetime, now: datetime) -> list[dict[str, Any]]:
        """Alerts stored since ``since``, never published, with no live lease."""

    def list(
        self, tenant: str | None, *, unread: bool | None, type_: str | None, limit: int, cursor: str | None
    ) -> NotificationPage:
        """Newest first; ``tenant`` None lists every tenant's. ValueError for a foreign cursor."""

    def unread_count(self, tenant: str | None) -> int: ...
    def mark_read(self, alert_id: str, tenant: str | None, now: datetime) -> dict[str, Any] | None:
        """The notification, read (idempotent); None if absent or (``tenant`` given) not its."""


class HealthStore(Protocol):
    """Each evaluated tenant's stored health (adapters/health.py), indexed by status."""

    def put(self, health: TenantHealth) -> None:
        """Store it unless a health computed later (``updated_at``) is stored already."""

    def get_many(self, tenant_ids: Sequence[str]) -> dict[str, TenantHealth]:
        """The stored health of those evaluated, by tenant id (one read per 100)."""

    def query(self, status: Status, limit: int, cursor: str | None) -> tuple[list[TenantHealth], str | None]:
        """The tenants stored at ``status``, by tenant id; ValueError for a foreign cursor."""


class BlobStore(Protocol):
    """Documents such as invoices (S3)."""

    def put(self, key: str, body: bytes, content_type: str) -> None: ...
    def put_file(self, key: str, body: IO[bytes], content_type: str) -> None:
        """Upload a file object as it reads (S3 multipart past a few MB): no whole copy in memory."""
        ...

    def get(self, key: str) -> bytes | None:
        """None when there is no such object."""

    def size(self, key: str) -> int | None:
        """The object's size in bytes, None when there is no such object (one HEAD)."""

    def link(self, key: str, expires_in_s: int) -> str:
        """A time-limited HTTPS link to the object, for a tenant to open."""


# ------------------------------------------------------------------ invoices
class IssueContended(StoreBusy):
    """``InvoiceStore.issue`` lost the race for the next number on every attempt: nothing was
    taken (the invoice is still a draft, or issued by a racer); retry later."""


class InvoiceStore(Protocol):
    """Invoices, their gap-free number sequence and invoice runs (the invoices table).

    Besides what each method names, a call may raise what the store raises (a ClientError or a
    connection error): an invoice's or a run's write is then either whole or absent, never
    half-done, and the call may be repeated."""

    def get(self, invoice_id: str, consistent: bool = False) -> StoredInvoice | None: ...
    def create_draft(self, inv: StoredInvoice) -> bool:
        """Put a new draft; False when the id exists (whatever its state). TypeError for a
        document holding a float (money is decimal strings)."""
        ...

    def replace_draft(self, inv: StoredInvoice, expected_version: int) -> bool:
        """Write ``inv`` at version ``expected_version + 1`` if the stored invoice is still a
        draft at ``expected_version``; False otherwise."""
        ...

    def issue(
        self,
        invoice_id: str,
        prefix: str,
        make: Callable[[str, datetime], dict[str, Any]],
        now: Callable[[], datetime],
        audit: Callable[[str, datetime], AuditEntry] | None = None,
    ) -> StoredInvoice:
        """Issue a draft with the next number of ``prefix`` (and ``audit(number, issued_at)``'s
        entry, in the same transaction): ``make(number, issued_at)`` gives
        the final document (it may be called once per attempt, each time with the number and
        time that attempt would take), and the sequence's step and the invoice's write are
        one transaction (no gap, no duplicate). An issued invoice is returned as stored,
        taking no number. LookupError when there is no such invoice; IssueContended when
        every attempt lost the race for the number; what ``make`` raises, nothing taken."""
        ...

    def mark_delivered(self, invoice_id: str) -> None:
        """Record an issued invoice's documents and invoice.ready done (idempotent);
        LookupError when there is no issued invoice of that id."""
        ...

    def transition(
        self,
        inv: StoredInvoice,
        doc: dict[str, Any],
        status: InvoiceStatus,
        entry: AuditEntry,
        *,
        marker: str | None = None,
    ) -> TransitionResult:
        """Move ``inv`` (as read) to ``status`` and ``doc`` if it is still at the version read,
        with the audit entry and ``marker`` (used once) in the same write."""
        ...

    def open_due(self, before: datetime, limit: int) -> list[StoredInvoice]:
        """Issued and overdue invoices due before ``before``, earliest first."""
        ...

    def late_fees_charged(self, invoice_ids: Sequence[str]) -> set[str]:
        """Which of these invoices' late fees an issued invoice has charged: ``issue`` records
        each ``late_fee`` line's source in its transaction, once (a second charge of the same
        fee cancels the transaction, and the retry recomputes without it)."""
        ...

    def undelivered(self, limit: int) -> list[StoredInvoice]:
        """Issued invoices whose documents or invoice.ready are not done, oldest issue first."""
        ...

    def drafts_due(self, now: datetime, limit: int) -> list[StoredInvoice]:
        """Drafts whose grace ended (``finalize_after <= now``), longest due first."""
        ...

    def list(
        self,
        *,
        tenant_id: str | None,
        status: InvoiceStatus | None,
        period: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[StoredInvoice], str | None]:
        """Newest period first (then tenant and id, descending); every filter combination.
        ValueError for a cursor that is not this list's."""
        ...

    def create_run(self, run: InvoiceRun) -> bool:
        """Store a new run; False when the id exists."""
        ...

    def get_run(self, run_id: str, consistent: bool = False) -> InvoiceRun | None: ...
    def set_run_expected(self, run_id: str, expected: int) -> None:
        """LookupError when there is no such run."""
        ...

    def record_outcome(self, run_id: str, tenant_id: str, outcome: str, error: str | None = None) -> None:
        """Once per (run, tenant): ``invoiced``, ``skipped`` or ``failed`` (ValueError for
        anything else), counted on the run in the same write; the same outcome again changes
        nothing, a success replaces a failure, never the reverse. A failure's ``error`` (cut
        to 300 characters) is kept on the run for the first ``10`` failing tenants.
        LookupError when there is no such run; StoreBusy when racing writers kept it from
        being recorded (nothing was)."""
        ...


# ------------------------------------------------------------------ alert delivery to tenants
class TenantAlertTopics(Protocol):
    """Delivers an alert to one tenant's own subscribers: its SNS topic, where each
    subscription's filter policy passes the alert types it asked for. The evaluator publishes
    each alert once to the operators' alerts topic, then once here."""

    def publish(self, tenant_id: str, subject: str, message: str, attributes: dict[str, str]) -> str | None:
        """The message id; None when the tenant has no subscriptions (no topic), and nothing
        was published. ``attributes`` become String message attributes (``type`` is the one
        filter policies read; ``tenant_id`` is set from ``tenant_id`` whatever they say). The
        topic lookup is cached per execution environment for 60 s (a miss is not cached)."""


class SubscriptionCapReached(Exception):
    """The tenant already has the most subscriptions it may have."""


class EndpointTaken(Exception):
    """The tenant already has a subscription with this protocol and endpoint (SNS keeps one
    subscription per topic, protocol and endpoint)."""


class EndpointRejected(Exception):
    """SNS refused the endpoint; the message says why."""


class FilterPolicyQuotaReached(Exception):
    """SNS refused the filter policy: the account has as many as its quota allows."""


@dataclass(frozen=True)
class TenantTopic:
    topic_arn: str | None
    subscriptions: int


class SubscriptionStore(Protocol):
    """A tenant's subscriptions, its topic and its subscription count (one DynamoDB partition
    per tenant). Every write that changes the count changes it in the same transaction."""

    def topic(self, tenant_id: str) -> TenantTopic | None:
        """The tenant's topic record (consistent read); None before its first subscription."""

    def set_topic(self, tenant_id: str, topic_arn: str) -> None: ...
    def list(self, tenant_id: str) -> list[Subscription]:
        """Oldest first."""

    def get(self, tenant_id: str, subscription_id: str) -> Subscription | None: ...
    def reserve(self, subscription: Subscription, cap: int) -> None:
        """Record ``subscription`` (without its SNS ARN yet) and count it, all or nothing.
        SubscriptionCapReached when the tenant has ``cap`` already; EndpointTaken when one of
        its subscriptions has the same protocol and endpoint."""

    def attach(self, subscription: Subscription) -> bool:
        """Record the SNS ARN and status; False when the record is gone (deleted meanwhile)."""

    def set_status(self, tenant_id: str, subscription_id: str, status: SubscriptionStatus) -> None: ...
    def release(self, subscription: Subscription) -> bool:
        """Delete the record and uncount it, all or nothing; False when it was gone already."""


class SubscriptionChannels(Protocol):
    """The SNS side of subscriptions: tenants' topics and their subscriptions."""

    def ensure_topic(self, name: str) -> str:
        """The topic's ARN, creating it if needed (idempotent by name)."""

    def subscribe(
        self, topic_arn: str, protocol: SubscriptionProtocol, endpoint: str, filter_policy: str | None
    ) -> tuple[str, SubscriptionStatus]:
        """(subscription ARN, status); ``filter_policy`` None: no filter. EndpointRejected when
        SNS refuses the endpoint, FilterPolicyQuotaReached when it refuses the filter policy."""

    def status(self, subscription_arn: str) -> SubscriptionStatus | None:
        """None when SNS no longer has the subscription."""

    def unsubscribe(self, subscription_arn: str) -> None:
        """Idempotent: a subscription SNS no longer has is fine."""

    def find(self, topic_arn: str, protocol: SubscriptionProtocol, endpoint: str) -> str | None:
        """The ARN of the topic's subscription with this protocol and endpoint, if any."""


# ------------------------------------------------------------------ analytics roll-ups
class RollupStore(Protocol):
    """The cross-tenant roll-ups of sum and count meters (docs/analytics.md): per operator day
    each tenant's value (stored twice: in the day's partition and in the tenant's), each day's
    total over all tenants and per plan, each operator month's tenant values ranked by value,
    and what the job last saw of each tenant's day counters. Every write is an absolute put.
    Reads the job makes before writing are strongly consistent."""

    def seen(self, meter: str, tenant: str) -> dict[str, Decimal]:
        """The tenant's day counters (utc key of the local day -> value) as last rolled up."""

    def put_seen(self, meter: str, tenant: str, values: dict[str, Decimal]) -> None: ...

    def put_tenant_days(self, meter: str, tenant: str, plan: str | None, values: dict[date, Decimal]) -> None:
        """The tenant's value of each operator day, in the day's and in the tenant's partition."""

    def tenant_days(self, meter: str, tenant: str, first: date, last: date) -> dict[date, Decimal]: ...

    def day_tenants(self, meter: str, day: date) -> dict[str, tuple[Decimal, str | None]]:
        """Every tenant's (value, plan) of one operator day."""

    def put_day_series(self, meter: str, day: date, total: Decimal, plans: dict[str, Decimal]) -> None: ...

    def day_series(self, meter: str, first: date, last: date) -> dict[date, Decimal]:
        """Each operator day's total over all tenants (days without one are absent)."""

    def plan_series(self, meter: str, first: date, last: date) -> dict[tuple[date, str], Decimal]: ...

    def put_month(self, meter: str, month: date, tenant: str, plan: str | None, value: Decimal) -> None: ...

    def month_tenants(self, meter: str, month: date) -> dict[str, tuple[Decimal, str | None]]: ...

    def top_month(
        self, meter: str, month: date, limit: int, cursor: str | None
    ) -> tuple[list[tuple[str, Decimal]], str | None]:
        """Tenants of one operator month by value, largest first, a page at a time (ValueError
        for a cursor of another list)."""
