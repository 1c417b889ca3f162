"""A "fake root": the catalog and the services wired on the fakes, like tollgate.wiring.Root
wires them on AWS. ``World()`` is one execution environment; ``world.another_environment()``
is a second one on the same stores (its own catalog and caches), as another function or
another Lambda instance would be.

Every cache (the catalog, the key service's record cache) and the rate limiter read the one
``FakeClock``: ``world.clock.advance(seconds=...)`` moves them all.

The consume path's ``FakeCounterStore`` and the consumer's ``FakeEventLedger`` share their
event markers and counters, as the two paths share the events and counters tables: an id
consumed first is never counted by the consumer, and consume's limits see what the consumer
counted. (``FakeCounterReader``, behind ``/v1/usage``, keeps its own items.) The
reconciliation reads the consumer's log and those counters and markers (``FakeDaySources``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tollgate.domain.plans import ApiRateLimit
from tollgate.services.activity import ActivityRecorder
from tollgate.services.alerts import AlertEvaluator, AlertService, Evaluation, RealTimeAlerts
from tollgate.services.audit import AuditService
from tollgate.services.billing_catalog import BillingCatalogService
from tollgate.services.catalog import CONFIG_TTL_S, Catalog
from tollgate.services.consume import ConsumeService, KnownCounters
from tollgate.services.count_usage import CountUsage
from tollgate.services.events_log import EventsLogService
from tollgate.services.health import HealthService
from tollgate.services.ingest import IngestService
from tollgate.services.invoice_export import InvoiceExporter
from tollgate.services.invoice_lifecycle import InvoiceLifecycle
from tollgate.services.invoice_runs import InvoiceRuns
from tollgate.services.invoicing import InvoiceCalculator, InvoiceService, InvoiceSettings
from tollgate.services.keys import KeyService
from tollgate.services.meters import MeterService
from tollgate.services.notifications import NotificationService
from tollgate.services.plans import PlanService
from tollgate.services.quarantine import QuarantineService
from tollgate.services.queue_health import QueueHealthService
from tollgate.services.quotas import QuotaService
from tollgate.services.ratelimit import ApiRateLimits, RateLimiter
from tollgate.services.reconcile import ReconcileService
from tollgate.services.reports import ReportService, ReportSettings
from tollgate.services.tenants import TenantService
from tollgate.services.usage import UsageService

from .activity import FakeActivityIndex
from .alerts import FakeAlertStore
from .billing_catalog import FakeBillingCatalog
from .clock import FakeClock
from .counter_store import FakeCounterStore
from .counters import FakeCounterReader
from .day_sources import FakeDaySources
from .event_ledger import FakeEventLedger
from .health import FakeHealthStore
from .invoices import FakeInvoiceStore
from .logs import FakeQuarantineLog, FakeRawEventLog
from .outbox import FakeBlobStore, FakeNotifier
from .queues import FakeQueueMonitor, FakeUsageQueue
from .ratelimit import FakeBucketStore
from .repos import (
    FakeApiKeyRepository,
    FakeAuditLog,
    FakeMeterRepository,
    FakeOverridesRepository,
    FakePlanRepository,
    FakeTenantRepository,
)
from .subscriptions import FakeTenantAlertTopics

USAGE_QUEUE_URL = "fake://queues/usage"
DLQ_URL = "fake://queues/usage-dlq"
DEFAULT_API_RATE = ApiRateLimit(per_second=Decimal(5), burst=10)
AUTH_CACHE_TTL_S = 60.0


@dataclass
class Stores:
    """What every environment shares: the tables, the queues and the clock."""

    clock: FakeClock = field(default_factory=FakeClock)
    audit_log: FakeAuditLog = field(default_factory=FakeAuditLog)
    meter_repo: FakeMeterRepository = field(default_factory=FakeMeterRepository)
    key_repo: FakeApiKeyRepository = field(default_factory=FakeApiKeyRepository)
    usage_queue: FakeUsageQueue = field(default_factory=FakeUsageQueue)
    queue_monitor: FakeQueueMonitor = field(default_factory=lambda: FakeQueueMonitor({USAGE_QUEUE_URL: 0, DLQ_URL: 0}))
    quarantine_log: FakeQuarantineLog = field(default_factory=FakeQuarantineLog)
    raw_events: FakeRawEventLog = field(default_factory=FakeRawEventLog)
    counter_reader: FakeCounterReader = field(default_factory=FakeCounterReader)
    bucket_store: FakeBucketStore = field(default_factory=FakeBucketStore)
    counter_store: FakeCounterStore = field(default_factory=FakeCounterStore)
    alert_store: FakeAlertStore = field(default_factory=FakeAlertStore)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    tenant_topics: FakeTenantAlertTopics = field(default_factory=FakeTenantAlertTopics)
    health_store: FakeHealthStore = field(default_factory=FakeHealthStore)
    activity_index: FakeActivityIndex = field(default_factory=FakeActivityIndex)
    invoice_store: FakeInvoiceStore = field(default_factory=FakeInvoiceStore)
    invoice_queue: FakeUsageQueue = field(default_factory=FakeUsageQueue)
    blobs: FakeBlobStore = field(default_factory=FakeBlobStore)
    billing_store: FakeBillingCatalog = field(init=False)
    event_ledger: FakeEventLedger = field(init=False)  # on the counter store's markers and counters
    day_sources: FakeDaySources = field(init=False)  # on the ledger's log, counters and markers
    tenant_repo: FakeTenantRepository = field(init=False)
    plan_repo: FakePlanRepository = field(init=False)
    overrides_repo: FakeOverridesRepository = field(init=False)

    def __post_init__(self) -> None:
        self.tenant_repo = FakeTenantRepository(self.audit_log)
        self.plan_repo = FakePlanRepository(self.audit_log)
        self.overrides_repo = FakeOverridesRepository(self.audit_log)
        self.billing_store = FakeBillingCatalog(self.audit_log)
        self.event_ledger = FakeEventLedger(self.counter_store.markers, self.counter_store.counters)
        self.day_sources = FakeDaySources(
            self.event_ledger.log, self.counter_store.counters, self.counter_store.markers
        )


class World:
    """One execution environment on ``stores`` (new ones by default)."""

    def __init__(
        self,
        stores: Stores | None = None,
        *,
        ttl: float = CONFIG_TTL_S,
        auth_cache_ttl: float = AUTH_CACHE_TTL_S,
        rate_limited: bool = True,
        default_api_rate: ApiRateLimit = DEFAULT_API_RATE,
        read_first: str = "adaptive",
    ) -> None:
        s = self.stores = stores if stores is not None else Stores()
        self.ttl, self.auth_cache_ttl, self.default_api_rate = ttl, auth_cache_ttl, default_api_rate
        self.clock = s.clock
        self.catalog = Catalog(
            s.tenant_repo, s.meter_repo, s.plan_repo, s.overrides_repo, ttl=ttl, clock=s.clock.monotonic
        )
        self.tenants = TenantService(s.tenant_repo, s.overrides_repo, s.plan_repo, self.catalog, s.clock)
        self.meters = MeterService(s.meter_repo, self.catalog, s.clock)
        self.plans = PlanService(s.plan_repo, self.catalog, s.clock)
        self.keys = KeyService(
            s.key_repo, s.tenant_repo, s.clock, cache_ttl=auth_cache_ttl, monotonic=s.clock.monotonic
        )
        self.audit = AuditService(s.audit_log)
        self.ingest = IngestService(self.catalog, s.usage_queue, s.clock)
        self.usage = UsageService(self.tenants, self.meters, s.counter_reader, s.clock)
        self.quarantine = QuarantineService(s.quarantine_log, self.tenants)
        self.events_log = EventsLogService(s.raw_events, self.tenants)
        self.queue_health = QueueHealthService(
            s.queue_monitor, s.quarantine_log, s.clock, usage_queue_url=USAGE_QUEUE_URL, dlq_url=DLQ_URL
        )
        self.quotas = QuotaService(s.tenant_repo, s.plan_repo, s.overrides_repo, s.counter_store, s.clock)
        self.consume = ConsumeService(
            self.catalog, s.counter_store, s.clock, known=KnownCounters(monotonic=s.clock.monotonic)
        )
        self.notifications = NotificationService(s.alert_store, s.clock)
        self.health = HealthService(s.health_store, self.quotas, s.tenant_repo, s.clock)
        self.count_usage = CountUsage(s.event_ledger, s.quarantine_log, s.clock, read_first=read_first)
        self.alerts = AlertService(s.alert_store, s.notifier, s.clock, tenant_topics=s.tenant_topics)
        self.alert_evaluator = AlertEvaluator(self.catalog, s.clock)
        self.activity_recorder = ActivityRecorder(s.activity_index, s.clock)
        self.real_time_alerts = RealTimeAlerts(self.alert_evaluator, self.alerts, after=self._after_evaluation)
        self.reconcile = ReconcileService(
            s.activity_index, self.catalog, s.day_sources, self.alerts, s.clock, workers=1, pause_s=0.0
        )
        self.billing_catalog = BillingCatalogService(s.billing_store, s.tenant_repo, s.clock)
        self.invoice_settings = InvoiceSettings(number_prefix="TG", seller_country="FR")
        self.invoice_calculator = InvoiceCalculator(
            self.catalog, self.usage, self.billing_catalog, s.audit_log, self.invoice_settings
        )
        self.invoices = InvoiceService(
            self.invoice_calculator,
            s.invoice_store,
            self.catalog,
            s.blobs,
            self.alerts,
            lambda doc: f"<html>{doc['number']} {doc['total']}</html>",
            s.clock,
            self.invoice_settings,
        )
        self.invoice_lifecycle = InvoiceLifecycle(s.invoice_store, self.alerts, self.catalog, s.clock)
        self.invoice_exporter = InvoiceExporter(
            s.invoice_store, s.blobs, s.clock, doc_link_ttl=self.invoice_settings.link_ttl
        )
        self.invoice_runs = InvoiceRuns(s.invoice_store, s.tenant_repo, self.invoices, s.invoice_queue, s.clock)
        self.reports = ReportService(
            s.tenant_repo, self.catalog, self.usage, s.invoice_store, s.blobs, self.alerts, s.clock, ReportSettings()
        )
        limiter = RateLimiter(s.bucket_store, s.clock.epoch_seconds) if rate_limited else None
        self.rate_limits = ApiRateLimits(limiter, self.catalog, default_api_rate)

    def _after_evaluation(self, evaluation: Evaluation) -> None:
        self.activity_recorder.record(evaluation.active)
        if evaluation.health:
            self.health.refresh(evaluation.health)

    def another_environment(self) -> World:
        """A second environment (own catalog, caches and limiter) on the same stores."""
        return World(
            self.stores,
            ttl=self.ttl,
            auth_cache_ttl=self.auth_cache_ttl,
            rate_limited=self.rate_limits.limiter is not None,
            default_api_rate=self.default_api_rate,
        )
