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
    from tollgate.adapters.activity_index import DynamoActivityIndex
    from tollgate.adapters.blobs import S3BlobStore
    from tollgate.adapters.counter_reader import CounterReader
    from tollgate.adapters.day_sources import DynamoDaySources
    from tollgate.adapters.entitlements import AuditedTenantRepo, AuditRepo, OverridesRepo, PlanRepo
    from tollgate.adapters.event_reader import EventReader
    from tollgate.adapters.ledger import Ledger
    from tollgate.adapters.notifier import SnsNotifier
    from tollgate.adapters.quarantine import QuarantineStore
    from tollgate.adapters.queue import UsageQueue
    from tollgate.adapters.quota_store import QuotaStore
    from tollgate.adapters.repos import ApiKeyRepo, MeterRepo
    from tollgate.services.activity import ActivityRecorder
    from tollgate.services.audit import AuditService
    from tollgate.services.catalog import Catalog
    from tollgate.services.consume import ConsumeService
    from tollgate.services.count_usage import CountUsage
    from tollgate.services.events_log import EventsLogService
    from tollgate.services.ingest import IngestService
    from tollgate.services.keys import KeyService
    from tollgate.services.meters import MeterService
    from tollgate.services.plans import PlanService
    from tollgate.services.quarantine import QuarantineService
    from tollgate.services.queue_health import QueueHealthService
    from tollgate.services.quotas import QuotaService
    from tollgate.services.ratelimit import ApiRateLimits
    from tollgate.services.reconcile import ReconcileService
    from tollgate.services.repack import RepackService
    from tollgate.services.tenants import TenantService
    from tollgate.services.usage import UsageService


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
    def blob_store(self) -> S3BlobStore:
        from tollgate.adapters.blobs import S3BlobStore

        return S3BlobStore(self._client("s3"), self.settings.invoice_bucket)

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
    def activity_recorder(self) -> ActivityRecorder:
        """Marks each active pair at most once per hour in this execution environment."""
        from tollgate.services.activity import ActivityRecorder

        return ActivityRecorder(self.activity_index, self.clock)

    @cached_property
    def reconcile(self) -> ReconcileService:
        from tollgate.services.reconcile import ReconcileService

        return ReconcileService(self.activity_index, self.catalog, self.day_sources, self.notifier, self.clock)
