"""Runtime settings: every environment variable the code reads, read here and nowhere else.

template.yaml gives every function these variables (Globals), and the local stack sets the
same names; ``Settings.from_env()`` is called once, by the composition root
(``tollgate.wiring``), when a function's execution environment starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Settings:
    tenants_table: str = "tollgate-tenants"
    meters_table: str = "tollgate-meters"
    api_keys_table: str = "tollgate-api-keys"
    events_table: str = "tollgate-events"
    counters_table: str = "tollgate-counters"
    plans_table: str = "tollgate-plans"
    limit_overrides_table: str = "tollgate-limit-overrides"
    audit_table: str = "tollgate-audit"
    alert_state_table: str = "tollgate-alert-state"
    """The activity index (which tenant and meter were active in which hour) and alert state."""
    rate_limits_table: str | None = None
    """None turns the API rate limit off (outside the template's functions, e.g. a benchmark)."""
    usage_queue_url: str = ""
    pack_queue_url: str = ""
    """Where ingest sends small messages for the repack stage; empty sends them to the usage queue."""
    usage_dlq_url: str = ""
    alerts_topic_arn: str = ""
    notifications_table: str = "tollgate-notifications"
    notification_retention_days: int = 400
    subscriptions_table: str = "tollgate-subscriptions"
    tenant_topic_prefix: str = "tollgate-tenant-alerts"
    """``TENANT_TOPIC_PREFIX``: each tenant's alert topic is ``<prefix>-<tenant id>``
    (tollgate.domain.subscriptions.topic_name); IAM grants the functions ``<prefix>-*``."""
    tenant_health_table: str = "tollgate-tenant-health"
    invoice_bucket: str = ""
    billing_catalog_table: str = "tollgate-billing-catalog"
    seller_country: str = "US"
    """``SELLER_COUNTRY``: the deployment's own country (ISO 3166-1 alpha-2), for reverse charge."""
    seller_name: str = "Tollgate"
    """``SELLER_NAME`` and ``SELLER_DETAILS`` (lines separated by ``;``: address, tax id): the
    seller block of every invoice."""
    seller_details: str = ""
    invoices_table: str = "tollgate-invoices"
    invoice_queue_url: str = ""
    invoice_number_prefix: str = "TG"
    """``INVOICE_NUMBER_PREFIX``: invoice numbers are ``<prefix>-<seq>``, gap-free per prefix."""
    invoice_grace_hours: int = 24
    """``INVOICE_GRACE_HOURS``: how long a draft waits for late events before it is issued."""
    invoice_net_days: int = 30
    """``INVOICE_NET_DAYS``: payment terms; an invoice is due this many days after issue."""
    invoice_link_ttl_days: int = 7
    invoice_reminder_days: str = "-3,1,7"
    """``INVOICE_REMINDER_DAYS``: days from ``due_at`` on which a payment reminder goes out."""
    """``INVOICE_LINK_TTL_DAYS``: how long the presigned links of invoice.ready stay valid."""
    rollups_table: str = "tollgate-rollups"
    operator_timezone: str = "UTC"
    """``OPERATOR_TIMEZONE``: the operator's zone (IANA): the days, weeks and months of cross-tenant
    analytics (docs/analytics.md) and the month the monthly report job reports on (docs/reports.md)."""
    raw_event_retention_days: int = 400
    claim_read_first: str = "always"
    """``CLAIM_READ_FIRST``: ``always`` or ``adaptive`` (services.count_usage.CountUsage)."""
    auth_cache_ttl_seconds: int = 60
    default_api_rate_per_second: Decimal = Decimal(500)
    default_api_burst: int = 1000
    region: str = "us-east-1"
    endpoint_url: str | None = None
    """``AWS_ENDPOINT_URL``: the local stack points every client at its embedded moto."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            tenants_table=env.get("TENANTS_TABLE", d.tenants_table),
            meters_table=env.get("METERS_TABLE", d.meters_table),
            api_keys_table=env.get("API_KEYS_TABLE", d.api_keys_table),
            events_table=env.get("EVENTS_TABLE", d.events_table),
            counters_table=env.get("COUNTERS_TABLE", d.counters_table),
            plans_table=env.get("PLANS_TABLE", d.plans_table),
            limit_overrides_table=env.get("LIMIT_OVERRIDES_TABLE", d.limit_overrides_table),
            audit_table=env.get("AUDIT_TABLE", d.audit_table),
            alert_state_table=env.get("ALERT_STATE_TABLE", d.alert_state_table),
            rate_limits_table=env.get("RATE_LIMITS_TABLE") or None,
            usage_queue_url=env.get("USAGE_QUEUE_URL", ""),
            pack_queue_url=env.get("PACK_QUEUE_URL", ""),
            usage_dlq_url=env.get("USAGE_DLQ_URL", ""),
            alerts_topic_arn=env.get("ALERTS_TOPIC_ARN", ""),
            notifications_table=env.get("NOTIFICATIONS_TABLE", d.notifications_table),
            notification_retention_days=int(env.get("NOTIFICATION_RETENTION_DAYS") or "400"),
            subscriptions_table=env.get("SUBSCRIPTIONS_TABLE", d.subscriptions_table),
            tenant_topic_prefix=env.get("TENANT_TOPIC_PREFIX") or d.tenant_topic_prefix,
            tenant_health_table=env.get("TENANT_HEALTH_TABLE", d.tenant_health_table),
            invoice_bucket=env.get("INVOICE_BUCKET", ""),
            billing_catalog_table=env.get("BILLING_CATALOG_TABLE", d.billing_catalog_table),
            seller_country=env.get("SELLER_COUNTRY") or d.seller_country,
            seller_name=env.get("SELLER_NAME") or d.seller_name,
            seller_details=env.get("SELLER_DETAILS", ""),
            invoices_table=env.get("INVOICES_TABLE", d.invoices_table),
            invoice_queue_url=env.get("INVOICE_QUEUE_URL", ""),
            invoice_number_prefix=env.get("INVOICE_NUMBER_PREFIX") or d.invoice_number_prefix,
            invoice_grace_hours=int(env.get("INVOICE_GRACE_HOURS") or "24"),
            invoice_net_days=int(env.get("INVOICE_NET_DAYS") or "30"),
            invoice_link_ttl_days=int(env.get("INVOICE_LINK_TTL_DAYS") or "7"),
            invoice_reminder_days=env.get("INVOICE_REMINDER_DAYS") or d.invoice_reminder_days,
            rollups_table=env.get("ROLLUPS_TABLE", d.rollups_table),
            operator_timezone=env.get("OPERATOR_TIMEZONE") or d.operator_timezone,
            raw_event_retention_days=int(env.get("RAW_EVENT_RETENTION_DAYS", "400")),
            claim_read_first=env.get("CLAIM_READ_FIRST") or d.claim_read_first,
            auth_cache_ttl_seconds=int(env.get("AUTH_CACHE_TTL_SECONDS", "60")),
            default_api_rate_per_second=Decimal(env.get("DEFAULT_API_RATE_PER_SECOND") or "500"),
            default_api_burst=int(env.get("DEFAULT_API_BURST") or "1000"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or d.region,
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        )
