"""PynamoDB models: the code's view of every table in template.yaml.

A test (tests/unit/test_template.py) checks each model's key schema, indexes and TTL
attribute against the template, so the two cannot drift. Table names come from the
environment the template gives every function.

The hot paths (consumer, ingest) write these tables with the low-level client for
control over conditions and transactions; the key layout they use is documented in
docs/storage.md and built by ``tollgate.domain.storage_keys``.
"""

from __future__ import annotations

from decimal import Decimal

from pynamodb.attributes import (
    Attribute,
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import NUMBER
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from tollgate.config import Settings


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number read back as ``Decimal`` (pynamodb's NumberAttribute gives floats)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(Decimal(value))

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class _Meta:
    @staticmethod
    def for_table(env_var: str, default: str) -> type:
        """A model's Meta: ``env_name`` is the template's variable for the table (a test checks
        it); the name itself is bound by ``bind`` when a composition root is built."""

        class Meta:
            table_name = default
            default_table_name = default
            env_name = env_var
            setting = env_var.lower()
            region = "us-east-1"
            host: str | None = None
            max_retry_attempts = 2

        return Meta


class _TenantsById(GlobalSecondaryIndex):  # type: ignore[type-arg]
    """Every tenant in one partition (``search_pk`` ``T``) sorted by its lower-cased id: prefix
    search (``GET /v1/tenants?q=``). Tenants are written rarely, far under a partition's
    1,000 writes a second."""

    class Meta:
        index_name = "by_id_key"
        projection = AllProjection()

    search_pk = UnicodeAttribute(hash_key=True)
    id_key = UnicodeAttribute(range_key=True)


class _TenantsByName(GlobalSecondaryIndex):  # type: ignore[type-arg]
    """The same, sorted by the lower-cased name."""

    class Meta:
        index_name = "by_name_key"
        projection = AllProjection()

    search_pk = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class TenantModel(Model):
    """A tenant. ``search_pk``, ``id_key`` and ``name_key`` are derived (repos._tenant_model)
    and feed the two search indexes."""

    Meta = _Meta.for_table("TENANTS_TABLE", "tollgate-tenants")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    plan = UnicodeAttribute(null=True)
    billing_email = UnicodeAttribute(null=True)
    currency = UnicodeAttribute(default="USD")
    timezone = UnicodeAttribute(default="UTC")
    metadata = JSONAttribute(null=True)
    billing_address = JSONAttribute(null=True)
    tax_id = UnicodeAttribute(null=True)
    tax_exempt = BooleanAttribute(null=True)  # absent on tenants created before tax: False
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    search_pk = UnicodeAttribute(null=True)
    id_key = UnicodeAttribute(null=True)
    name_key = UnicodeAttribute(null=True)
    by_id_key = _TenantsById()
    by_name_key = _TenantsByName()


class MeterModel(Model):
    Meta = _Meta.for_table("METERS_TABLE", "tollgate-meters")

    key = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    unit = UnicodeAttribute(null=True)
    aggregation = UnicodeAttribute()
    value_property = UnicodeAttribute(default="value")
    group_by = ListAttribute(of=UnicodeAttribute, null=True)
    scale = NumberAttribute(null=True)  # absent on meters created before scales: DEFAULT_SCALE
    rounding = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class ApiKeyModel(Model):
    """Only the SHA-256 of a key is stored; the key itself is shown once."""

    Meta = _Meta.for_table("API_KEYS_TABLE", "tollgate-api-keys")

    id = UnicodeAttribute(hash_key=True)
    key_hash = UnicodeAttribute()
    scope = UnicodeAttribute()
    tenant_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)


class ConsumeDayIndex(GlobalSecondaryIndex["EventLedgerModel"]):
    """The consume records: the markers ``POST /v1/consume`` counted, by the day total they added
    to (``cd``), with the amount (``a``). Sparse: no other item carries ``cd``."""

    class Meta:
        index_name = "by_consume_day"
        projection = IncludeProjection(["a"])

    consume_day = UnicodeAttribute(hash_key=True, attr_name="cd")


class EventLedgerModel(Model):
    """Events table: dedupe markers (``E#``), message markers (``M#``) and raw-event chunks (``L#``)."""

    Meta = _Meta.for_table("EVENTS_TABLE", "tollgate-events")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)
    claimed_by = UnicodeAttribute(null=True, attr_name="msg")
    count = NumberAttribute(null=True, attr_name="n")
    body = BinaryAttribute(null=True, attr_name="z", legacy_encoding=False)
    consume_day = UnicodeAttribute(null=True, attr_name="cd")
    amount = DecimalAttribute(null=True, attr_name="a")
    by_consume_day = ConsumeDayIndex()


class CounterModel(Model):
    """Counters table: one item per tenant, meter, window, window start and group value."""

    Meta = _Meta.for_table("COUNTERS_TABLE", "tollgate-counters")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)
    value = DecimalAttribute(null=True, attr_name="v")
    latest_at = UnicodeAttribute(null=True, attr_name="t")


class PlanModel(Model):
    """Plans table: one item per plan; ``limits``, ``api_rate_limit`` and ``charges`` as JSON."""

    Meta = _Meta.for_table("PLANS_TABLE", "tollgate-plans")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    limits = JSONAttribute()
    api_rate_limit = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # Prices (absent on plans made before them: USD, no fee, no commitment, no charges).
    # Amounts are decimal text, in the charges too, so none passes through a float.
    currency = UnicodeAttribute(null=True)
    base_fee = UnicodeAttribute(null=True)
    minimum_commitment = UnicodeAttribute(null=True)
    late_fee = JSONAttribute(null=True)
    charges = JSONAttribute(null=True)


class LimitOverridesModel(Model):
    """Tenant limit overrides: one item per tenant that has any."""

    Meta = _Meta.for_table("LIMIT_OVERRIDES_TABLE", "tollgate-limit-overrides")

    tenant_id = UnicodeAttribute(hash_key=True)
    limits = JSONAttribute()
    updated_at = UTCDateTimeAttribute()


class AuditModel(Model):
    """Audit trail: ``subject`` is ``tenant#<id>`` or ``plan#<id>``; ``sk`` sorts by time."""

    Meta = _Meta.for_table("AUDIT_TABLE", "tollgate-audit")

    subject = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    before = JSONAttribute(null=True)
    after = JSONAttribute(null=True)
    reason = UnicodeAttribute(null=True)


class AlertStateModel(Model):
    """Alert state: the activity index (``A#<UTC hour>`` / ``<tenant>#<meter>``, written with the
    low-level client by ``tollgate.adapters.activity_index``). Tenant health has its own table."""

    Meta = _Meta.for_table("ALERT_STATE_TABLE", "tollgate-alert-state")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)


class RateLimitBucketModel(Model):
    """API rate-limit buckets (GCRA): ``tat`` in microseconds since the epoch. The hot path
    writes it with the low-level client (tollgate.adapters.ratelimit_store)."""

    Meta = _Meta.for_table("RATE_LIMITS_TABLE", "tollgate-rate-limits")

    pk = UnicodeAttribute(hash_key=True)
    tat = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


def _index(name: str, hash_key: str, range_key: str = "ts") -> type[GlobalSecondaryIndex]:
    """An index on ``hash_key`` and ``range_key`` (the notifications': newest first by ``ts``)."""

    class Index(GlobalSecondaryIndex):  # type: ignore[type-arg]
        class Meta:
            index_name = name
            projection = AllProjection()

    setattr(Index, hash_key, UnicodeAttribute(hash_key=True))
    setattr(Index, range_key, UnicodeAttribute(range_key=True))
    return Index


class NotificationModel(Model):
    """Alerts, which are also the in-app notifications; written and read with the low-level
    client (tollgate.adapters.notifications), where the item's attributes are described."""

    Meta = _Meta.for_table("NOTIFICATIONS_TABLE", "tollgate-notifications")

    id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    feed = UnicodeAttribute()
    unread = UnicodeAttribute(null=True)
    ts = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)
    by_tenant = _index("by_tenant", "tenant_id")()
    by_feed = _index("by_feed", "feed")()
    unread_index = _index("unread", "unread")()


class SubscriptionModel(Model):
    """Tenants' alert subscriptions, their topic and count (one partition per tenant). Read and
    written with the low-level client (tollgate.adapters.subscriptions), which documents the
    sort keys."""

    Meta = _Meta.for_table("SUBSCRIPTIONS_TABLE", "tollgate-subscriptions")

    tenant_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class _ByStatus(GlobalSecondaryIndex):  # type: ignore[type-arg]
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    health_status = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class TenantHealthModel(Model):
    """Each evaluated tenant's health; written and read with the low-level client
    (tollgate.adapters.health), where the item's attributes are described."""

    Meta = _Meta.for_table("TENANT_HEALTH_TABLE", "tollgate-tenant-health")

    tenant_id = UnicodeAttribute(hash_key=True)
    health_status = UnicodeAttribute()
    has_overages = BooleanAttribute()
    updated_at = UnicodeAttribute()
    by_status = _ByStatus()


class BillingCatalogModel(Model):
    """Tax rates (pk ``TAX``, sk ``TAX#<id>``), discounts (pk ``DISCOUNT``, sk ``DISCOUNT#<id>``,
    with ``assigned``: how many tenants have it) and each tenant's assigned discounts (pk
    ``TENANT#<id>``, sk ``DISCOUNTS``, ``ids``). The definitions are JSON in ``body``."""

    Meta = _Meta.for_table("BILLING_CATALOG_TABLE", "tollgate-billing-catalog")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    body = JSONAttribute(null=True)
    assigned = NumberAttribute(null=True)
    ids = ListAttribute(of=UnicodeAttribute, null=True)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)


class InvoiceModel(Model):
    """Invoices (``I#<id>``), the number sequence (``SEQ#<prefix>``), runs (``R#<id>``) and run
    outcomes (``O#<run>#<tenant>``); written and read with the low-level client
    (tollgate.adapters.invoices), where the items' attributes are described."""

    Meta = _Meta.for_table("INVOICES_TABLE", "tollgate-invoices")

    pk = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    feed = UnicodeAttribute(null=True)
    lk = UnicodeAttribute(null=True)
    due = UnicodeAttribute(null=True)
    finalize_after = UnicodeAttribute(null=True)
    undelivered = UnicodeAttribute(null=True)
    issued_at = UnicodeAttribute(null=True)
    open = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    by_tenant = _index("by_tenant", "tenant_id", "lk")()
    by_status = _index("by_status", "status", "lk")()
    all_invoices = _index("all", "feed", "lk")()
    drafts_due = _index("drafts_due", "due", "finalize_after")()
    undelivered_index = _index("undelivered", "undelivered", "issued_at")()
    open_index = _index("open", "open", "due_at")()


class _ByRank(GlobalSecondaryIndex):  # type: ignore[type-arg]
    """Sparse: only operator-month items carry ``rank`` (their value); keys only, which is all
    a ranking needs (tenant and value)."""

    class Meta:
        index_name = "by_rank"
        projection = KeysOnlyProjection()

    pk = UnicodeAttribute(hash_key=True)
    rank = DecimalAttribute(range_key=True)


class RollupModel(Model):
    """Analytics roll-ups (docs/analytics.md); written and read with the low-level client
    (tollgate.adapters.rollups), where the items are described."""

    Meta = _Meta.for_table("ROLLUPS_TABLE", "tollgate-rollups")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    rank = DecimalAttribute(null=True)
    by_rank = _ByRank()


ALL_MODELS: tuple[type[Model], ...] = (
    TenantModel,
    MeterModel,
    ApiKeyModel,
    EventLedgerModel,
    CounterModel,
    PlanModel,
    LimitOverridesModel,
    AuditModel,
    RateLimitBucketModel,
    NotificationModel,
    SubscriptionModel,
    TenantHealthModel,
    AlertStateModel,
    BillingCatalogModel,
    InvoiceModel,
    RollupModel,
)


def bind(settings: Settings) -> None:
    """Point every model at the tables, region and endpoint of ``settings`` (the composition
    root calls it once per execution environment, before any model is used). pynamodb keeps
    table names on the model classes, so this is process-wide: every root of a process binds
    the same settings (one function's environment, or one test's moto world)."""
    for model in ALL_MODELS:
        meta = model.Meta
        name = getattr(settings, meta.setting) or meta.default_table_name  # no rate-limits table: its default
        if (meta.table_name, meta.region, meta.host) != (name, settings.region, settings.endpoint_url):
            meta.table_name, meta.region, meta.host = name, settings.region, settings.endpoint_url
            model._connection = None  # noqa: SLF001 - pynamodb caches the connection on the class
