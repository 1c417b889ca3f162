"""The composition root: each function builds one ``Root`` per execution environment (at
import of its ``functions/<name>/app.py``) and takes what it needs from it.

The order is the dependency order: settings, then adapters (clients, repositories, stores),
then the one catalog cache, then the services. Everything is built on first use, so a
function pays only for what it runs (the ingest function never builds the consumer's ledger).
Nothing here is module-level state: two roots share nothing but the process-wide pynamodb
table binding (``models.bind``), which both set from the same settings.

Tests build a fresh root per test (or per environment) instead of resetting caches.

Each part's module is imported where the part is built, not at the top: a function imports
only what it runs, which keeps every function's cold start to its own graph (the one named
exemption from the rule against imports inside functions, in pyproject.toml).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tollgate.adapters import models
from tollgate.config import Settings
from tollgate.services.clock import SystemClock
from tollgate.services.ports import Clock

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from tollgate.adapters.activity_index import DynamoActivityIndex
    from tollgate.adapters.blobs import S3BlobStore
    from tollgate.adapters.counter_reader import CounterReader
    from tollgate.adapters.day_sources import DynamoDaySources
    from tollgate.adapters.entitlements import AuditedTenantRepo, AuditRepo, OverridesRepo, PlanRepo
    from tollgate.adapters.event_reader import EventReader
    from tollgate.adapters.health import DynamoHealthStore
    from tollgate.adapters.invoices import DynamoInvoiceStore
    from tollgate.adapters.ledger import Ledger
    from tollgate.adapters.notifications import DynamoAlertStore
    from tollgate.adapters.notifier import SnsNotifier
    from tollgate.adapters.quarantine import QuarantineStore
    from tollgate.adapters.queue import UsageQueue
    from tollgate.adapters.quota_store import QuotaStore
    from tollgate.adapters.repos import ApiKeyRepo, MeterRepo
    from tollgate.adapters.rollups import DynamoRollupStore
    from tollgate.adapters.subscriptions import SnsTenantAlertTopics, SubscriptionTable
    from tollgate.services.activity import ActivityRecorder
    from tollgate.services.alert_sweep import AlertSweep
    from tollgate.services.alerts import AlertEvaluator, AlertService, Evaluation, RealTimeAlerts
    from tollgate.services.analytics import AnalyticsService
    from tollgate.services.audit import AuditService
    from tollgate.services.billing_catalog import BillingCatalogService
    from tollgate.services.catalog import Catalog
    from tollgate.services.consume import ConsumeService
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
    from tollgate.services.ratelimit import ApiRateLimits
    from tollgate.services.reconcile import ReconcileService
    from tollgate.services.repack import RepackService
    from tollgate.services.reports import ReportService
    from tollgate.services.rollup_job import RollupJob
    from tollgate.services.subscriptions import SubscriptionService
    from tollgate.services.tenant_ranking import TenantRanking
    from tollgate.services.tenants import TenantService
    from tollgate.services.usage import UsageService


TENANT_TOPIC_TTL_S = 60.0
"""How long an environment keeps a tenant's alert topic ARN (``tenant_alert_topics``)."""


class LazyClient:
    """An AWS client made on first use: building the object graph at import costs no client
    creation (about 0.1 s each), so a function's cold start does not pay for a client the
    request may not need (a 401 never reaches DynamoDB)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
        return getattr(self._client, name)


class Root:
    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        models.bind(self.settings)
        self.clock: Clock = clock if clock is not None else SystemClock()

    # -------------------------------------------------------------- adapters
    @cached_property
    def dynamodb(self) -> Any:
        from tollgate.adapters.ledger import dynamodb_client

        return LazyClient(lambda: dynamodb_client(self.settings))

    @cached_property
    def sqs(self) -> Any:
        from tollgate.adapters.queue import sqs_client

        return LazyClient(lambda: sqs_client(self.settings.region, self.settings.endpoint_url))

    @cached_property
    def tenant_repo(self) -> AuditedTenantRepo:
        from tollgate.adapters.entitlements import AuditedTenantRepo

        return AuditedTenantRepo()

    @cached_property
    def meter_repo(self) -> MeterRepo:
        from tollgate.adapters.repos import MeterRepo

        return MeterRepo()

    @cached_property
    def plan_repo(self) -> PlanRepo:
        from tollgate.adapters.entitlements import PlanRepo

        return PlanRepo()

    @cached_property
    def overrides_repo(self) -> OverridesRepo:
        from tollgate.adapters.entitlements import OverridesRepo

        return OverridesRepo()

    @cached_property
    def key_repo(self) -> ApiKeyRepo:
        from tollgate.adapters.repos import ApiKeyRepo

        return ApiKeyRepo()

    @cached_property
    def audit_log(self) -> AuditRepo:
        from tollgate.adapters.entitlements import AuditRepo

        return AuditRepo()

    @cached_property
    def counter_reader(self) -> CounterReader:
        from tollgate.adapters.counter_reader import CounterReader

        return CounterReader()

    @cached_property
    def counter_store(self) -> QuotaStore:
        from tollgate.adapters.quota_store import QuotaStore

        s = self.settings
        return QuotaStore(self.dynamodb, events_table=s.events_table, counters_table=s.counters_table)

    @cached_property
    def ledger(self) -> Ledger:
        from tollgate.adapters.ledger import Ledger

        s = self.settings
        return Ledger(
            self.dynamodb,
            events_table=s.events_table,
            counters_table=s.counters_table,
            retention_days=s.raw_event_retention_days,
        )

    @cached_property
    def event_reader(self) -> EventReader:
        """The raw-event log's reader (``GET /v1/events``); ``ledger`` writes the log."""
        from tollgate.adapters.event_reader import EventReader

        return EventReader(self.dynamodb, events_table=self.settings.events_table)

    @cached_property
    def quarantine_log(self) -> QuarantineStore:
        from tollgate.adapters.quarantine import QuarantineStore

        s = self.settings
        return QuarantineStore(
            self.dynamodb,
            events_table=s.events_table,
            counters_table=s.counters_table,
            retention_days=s.raw_event_retention_days,
        )

    @cached_property
    def activity_index(self) -> DynamoActivityIndex:
        """Which (tenant, meter) pairs were active in which UTC hour (the alert-state table)."""
        from tollgate.adapters.activity_index import DynamoActivityIndex

        return DynamoActivityIndex(self.dynamodb, self.settings.alert_state_table)

    @cached_property
    def day_sources(self) -> DynamoDaySources:
        """What the reconciliation reads of a tenant's day: counters, raw-event log, consume records."""
        from tollgate.adapters.day_sources import DynamoDaySources

        s = self.settings
        return DynamoDaySources(self.dynamodb, events_table=s.events_table, counters_table=s.counters_table)

    @cached_property
    def notifier(self) -> SnsNotifier:
        from tollgate.adapters.notifier import SnsNotifier

        return SnsNotifier(self._client("sns"), self.settings.alerts_topic_arn)

    @cached_property
    def alert_store(self) -> DynamoAlertStore:
        from tollgate.adapters.notifications import DynamoAlertStore

        s = self.settings
        return DynamoAlertStore(self.dynamodb, s.notifications_table, retention_days=s.notification_retention_days)

    @cached_property
    def health_store(self) -> DynamoHealthStore:
        from tollgate.adapters.health import DynamoHealthStore

        return DynamoHealthStore(self.dynamodb, self.settings.tenant_health_table)

    @cached_property
    def blob_store(self) -> S3BlobStore:
        from tollgate.adapters.blobs import S3BlobStore

        return S3BlobStore(LazyClient(lambda: self._client("s3")), self.settings.invoice_bucket)

    @cached_property
    def sns(self) -> Any:
        return LazyClient(lambda: self._client("sns"))

    @cached_property
    def subscription_table(self) -> SubscriptionTable:
        from tollgate.adapters.subscriptions import SubscriptionTable

        return SubscriptionTable(self.dynamodb, self.settings.subscriptions_table)

    @cached_property
    def tenant_alert_topics(self) -> SnsTenantAlertTopics:
        """``ports.TenantAlertTopics``: the alert evaluator's delivery to tenants' subscribers.
        The tenant's topic is looked up once per TENANT_TOPIC_TTL_S per environment (a miss,
        i.e. no subscriptions, is not cached, so a first subscription works at once)."""
        from tollgate.adapters.subscriptions import SnsTenantAlertTopics
        from tollgate.services.catalog import TtlCache

        topics = TtlCache(self.subscription_table.topic_for_publish, ttl=TENANT_TOPIC_TTL_S)
        return SnsTenantAlertTopics(self.sns, topics.get)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(
            service, region_name=self.settings.region, endpoint_url=self.settings.endpoint_url
        )

    @cached_property
    def usage_queue(self) -> UsageQueue:
        from tollgate.adapters.queue import UsageQueue

        return UsageQueue(self.sqs, self.settings.usage_queue_url)

    @cached_property
    def pack_queue(self) -> UsageQueue | None:
        from tollgate.adapters.queue import UsageQueue

        return UsageQueue(self.sqs, self.settings.pack_queue_url) if self.settings.pack_queue_url else None

    # -------------------------------------------------------------- the one cache
    @cached_property
    def catalog(self) -> Catalog:
        from tollgate.services.catalog import Catalog

        return Catalog(self.tenant_repo, self.meter_repo, self.plan_repo, self.overrides_repo)

    # -------------------------------------------------------------- services
    @cached_property
    def keys(self) -> KeyService:
        from tollgate.services.keys import KeyService

        return KeyService(self.key_repo, self.tenant_repo, self.clock, cache_ttl=self.settings.auth_cache_ttl_seconds)

    @cached_property
    def rate_limits(self) -> ApiRateLimits:
        from tollgate.adapters.ratelimit_store import DynamoBucketStore
        from tollgate.domain.plans import ApiRateLimit
        from tollgate.services.ratelimit import ApiRateLimits, RateLimiter

        s = self.settings
        limiter = None
        if s.rate_limits_table:
            limiter = RateLimiter(DynamoBucketStore(self.dynamodb, s.rate_limits_table), self._epoch_seconds)
        default = ApiRateLimit(per_second=s.default_api_rate_per_second, burst=s.default_api_burst)
        return ApiRateLimits(limiter, self.catalog, default)

    def _epoch_seconds(self) -> float:
        return self.clock.now().timestamp()

    @cached_property
    def tenants(self) -> TenantService:
        from tollgate.services.tenants import TenantService

        return TenantService(self.tenant_repo, self.overrides_repo, self.plan_repo, self.catalog, self.clock)

    @cached_property
    def billing_catalog(self) -> BillingCatalogService:
        from tollgate.adapters.billing_catalog import BillingCatalogRepo
        from tollgate.services.billing_catalog import BillingCatalogService

        return BillingCatalogService(BillingCatalogRepo(), self.tenant_repo, self.clock)

    @cached_property
    def meters(self) -> MeterService:
        from tollgate.services.meters import MeterService

        return MeterService(self.meter_repo, self.catalog, self.clock)

    @cached_property
    def plans(self) -> PlanService:
        from tollgate.services.plans import PlanService

        return PlanService(self.plan_repo, self.catalog, self.clock)

    @cached_property
    def audit(self) -> AuditService:
        from tollgate.services.audit import AuditService

        return AuditService(self.audit_log)

    @cached_property
    def subscriptions(self) -> SubscriptionService:
        from tollgate.adapters.subscriptions import SnsChannels
        from tollgate.services.subscriptions import SubscriptionService

        return SubscriptionService(
            self.tenants,
            self.subscription_table,
            SnsChannels(self.sns),
            self.clock,
            topic_prefix=self.settings.tenant_topic_prefix,
        )

    @cached_property
    def quotas(self) -> QuotaService:
        """Reads configuration fresh (consistent reads), not through the catalog: an operator
        who just changed a plan sees it in GET /v1/quotas at once."""
        from tollgate.services.quotas import QuotaService

        return QuotaService(self.tenant_repo, self.plan_repo, self.overrides_repo, self.counter_store, self.clock)

    @cached_property
    def consume(self) -> ConsumeService:
        from tollgate.services.consume import ConsumeService

        return ConsumeService(
            self.catalog, self.counter_store, self.clock, retention_days=self.settings.raw_event_retention_days
        )

    @cached_property
    def ingest(self) -> IngestService:
        from tollgate.services.ingest import IngestService

        return IngestService(self.catalog, self.usage_queue, self.clock, pack_queue=self.pack_queue)

    @cached_property
    def usage(self) -> UsageService:
        from tollgate.services.usage import UsageService

        return UsageService(self.tenants, self.meters, self.counter_reader, self.clock)

    @cached_property
    def events_log(self) -> EventsLogService:
        from tollgate.services.events_log import EventsLogService

        return EventsLogService(self.event_reader, self.tenants)

    @cached_property
    def quarantine(self) -> QuarantineService:
        from tollgate.services.quarantine import QuarantineService

        return QuarantineService(self.quarantine_log, self.tenants)

    @cached_property
    def count_usage(self) -> CountUsage:
        from tollgate.services.count_usage import CountUsage

        return CountUsage(self.ledger, self.quarantine_log, self.clock, read_first=self.settings.claim_read_first)

    @cached_property
    def repack(self) -> RepackService:
        from tollgate.services.repack import RepackService

        return RepackService(self.usage_queue)

    @cached_property
    def queue_health(self) -> QueueHealthService:
        from tollgate.adapters.queue import SqsQueueMonitor
        from tollgate.services.queue_health import QueueHealthService

        s = self.settings
        return QueueHealthService(
            SqsQueueMonitor(self.sqs),
            self.quarantine_log,
            self.clock,
            usage_queue_url=s.usage_queue_url,
            dlq_url=s.usage_dlq_url,
            pack_queue_url=s.pack_queue_url,
        )

    @cached_property
    def alerts(self) -> AlertService:
        from tollgate.services.alerts import AlertService

        return AlertService(self.alert_store, self.notifier, self.clock, tenant_topics=self.tenant_alert_topics)

    @cached_property
    def alert_evaluator(self) -> AlertEvaluator:
        from tollgate.services.alerts import AlertEvaluator

        return AlertEvaluator(self.catalog, self.clock)

    @cached_property
    def real_time_alerts(self) -> RealTimeAlerts:
        from tollgate.services.alerts import RealTimeAlerts

        return RealTimeAlerts(self.alert_evaluator, self.alerts, after=self._after_evaluation)

    def _after_evaluation(self, evaluation: Evaluation) -> None:
        """The stream path's follow-ups: the (tenant, meter) pairs counted are marked active for
        the sweep and the reconciliation; tenants whose level moved get their health refreshed."""
        self.activity_recorder.record(evaluation.active)
        if evaluation.health:
            self.health.refresh(evaluation.health)

    @cached_property
    def notifications(self) -> NotificationService:
        from tollgate.services.notifications import NotificationService

        return NotificationService(self.alert_store, self.clock)

    @cached_property
    def health(self) -> HealthService:
        """Tenant health: ``refresh(tenant_ids)`` from the alerts path (``Evaluation.health``)
        and the sweep, ``refresh_unhealthy()`` from the sweep; read with the tenants."""
        from tollgate.services.health import HealthService

        return HealthService(self.health_store, self.quotas, self.tenant_repo, self.clock)

    @cached_property
    def activity_recorder(self) -> ActivityRecorder:
        """Marks each active pair at most once per hour in this execution environment."""
        from tollgate.services.activity import ActivityRecorder

        return ActivityRecorder(self.activity_index, self.clock)

    @cached_property
    def reconcile(self) -> ReconcileService:
        from tollgate.services.reconcile import ReconcileService

        return ReconcileService(self.activity_index, self.catalog, self.day_sources, self.alerts, self.clock)

    @cached_property
    def alert_sweep(self) -> AlertSweep:
        from tollgate.services.alert_sweep import AlertSweep

        return AlertSweep(
            self.tenant_repo,
            self.quotas,
            self.alerts,
            self.clock,
            activity=self.activity_index,
            unhealthy=self.health.unhealthy_ids,
            on_snapshot=self.health.record,
        )

    # -------------------------------------------------------------- invoices
    @cached_property
    def invoice_store(self) -> DynamoInvoiceStore:
        from tollgate.adapters.invoices import DynamoInvoiceStore

        return DynamoInvoiceStore(self.dynamodb, self.settings.invoices_table)

    @cached_property
    def invoice_queue(self) -> UsageQueue:
        from tollgate.adapters.queue import UsageQueue

        return UsageQueue(self.sqs, self.settings.invoice_queue_url)

    @cached_property
    def invoice_settings(self) -> InvoiceSettings:
        from datetime import timedelta

        from tollgate.services.invoicing import InvoiceSettings

        s = self.settings
        return InvoiceSettings(
            number_prefix=s.invoice_number_prefix,
            grace=timedelta(hours=s.invoice_grace_hours),
            net_days=s.invoice_net_days,
            link_ttl=timedelta(days=s.invoice_link_ttl_days),
            seller_country=s.seller_country,
        )

    @cached_property
    def invoice_calculator(self) -> InvoiceCalculator:
        from tollgate.services.invoicing import InvoiceCalculator

        return InvoiceCalculator(self.catalog, self.usage, self.billing_catalog, self.audit_log, self.invoice_settings)

    def render_invoice(self, doc: dict[str, Any]) -> str:
        from tollgate.adapters.invoice_html import render_invoice_html
        from tollgate.domain.invoice_build import bill_to_lines

        s = self.settings
        seller = [s.seller_name, *(line.strip() for line in s.seller_details.split(";"))]
        return render_invoice_html(doc, seller=seller, bill_to=bill_to_lines(doc), net_days=s.invoice_net_days)

    @cached_property
    def invoices(self) -> InvoiceService:
        from tollgate.services.invoicing import InvoiceService

        return InvoiceService(
            self.invoice_calculator,
            self.invoice_store,
            self.catalog,
            self.blob_store,
            self.alerts,
            self.render_invoice,
            self.clock,
            self.invoice_settings,
        )

    @cached_property
    def invoice_lifecycle(self) -> InvoiceLifecycle:
        from tollgate.services.invoice_lifecycle import InvoiceLifecycle

        offsets = tuple(int(d) for d in self.settings.invoice_reminder_days.split(",") if d.strip())
        return InvoiceLifecycle(self.invoice_store, self.alerts, self.catalog, self.clock, reminder_offsets=offsets)

    @cached_property
    def invoice_exporter(self) -> InvoiceExporter:
        from tollgate.services.invoice_export import InvoiceExporter

        return InvoiceExporter(
            self.invoice_store, self.blob_store, self.clock, doc_link_ttl=self.invoice_settings.link_ttl
        )

    @cached_property
    def invoice_runs(self) -> InvoiceRuns:
        from tollgate.services.invoice_runs import InvoiceRuns

        return InvoiceRuns(self.invoice_store, self.tenant_repo, self.invoices, self.invoice_queue, self.clock)

    # -------------------------------------------------------------- analytics
    @cached_property
    def operator_zone(self) -> ZoneInfo:
        """``OPERATOR_TIMEZONE``, checked against the zone database (a name that is not a zone
        fails here, at the first analytics call, not with wrong days)."""
        from tollgate.domain.periods import zone

        return zone(self.settings.operator_timezone)

    @cached_property
    def rollup_store(self) -> DynamoRollupStore:
        """The job's: strongly consistent reads (it reads back what it wrote)."""
        from tollgate.adapters.rollups import DynamoRollupStore

        return DynamoRollupStore(self.dynamodb, self.settings.rollups_table)

    @cached_property
    def rollup_reads(self) -> DynamoRollupStore:
        """The API's: eventually consistent reads, half the read units; the roll-ups change
        every 10 minutes, so a read a second old loses nothing."""
        from tollgate.adapters.rollups import DynamoRollupStore

        return DynamoRollupStore(self.dynamodb, self.settings.rollups_table, consistent=False)

    @cached_property
    def rollup_job(self) -> RollupJob:
        from tollgate.services.rollup_job import RollupJob

        return RollupJob(
            self.activity_index, self.catalog, self.counter_reader, self.rollup_store, self.clock, self.operator_zone
        )

    @cached_property
    def analytics(self) -> AnalyticsService:
        from tollgate.services.analytics import AnalyticsService

        return AnalyticsService(
            self.rollup_reads, self.usage, self.tenants, self.meters, self.clock, self.operator_zone
        )

    @cached_property
    def tenant_ranking(self) -> TenantRanking:
        from tollgate.services.tenant_ranking import TenantRanking

        return TenantRanking(self.analytics, self.health, self.tenant_repo)

    # -------------------------------------------------------------- reports
    @cached_property
    def reports(self) -> ReportService:
        """The monthly report (docs/reports.md): the reports job and ``GET /v1/reports/{period}``."""
        from datetime import timedelta

        from tollgate.services.reports import ReportService, ReportSettings

        s = self.settings
        settings = ReportSettings(timezone=s.operator_timezone, link_ttl=timedelta(days=s.invoice_link_ttl_days))
        return ReportService(
            self.tenant_repo,
            self.catalog,
            self.usage,
            self.invoice_store,
            self.blob_store,
            self.alerts,
            self.clock,
            settings,
        )
