"""The API's answers as the client returns them (pydantic v2). Quantities are ``Decimal``,
times aware datetimes; fields the server adds later are ignored, so an older client keeps
working. ``tests/integration/test_client_contract.py`` compares these fields with the server's
OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


# ------------------------------------------------------------------ events
class FieldError(Model):
    field: str
    message: str


class Rejected(Model):
    index: int = Field(description="Position of the event in the request.")
    id: str | None
    errors: list[FieldError]
    retryable: bool = Field(
        default=False, description="Valid, but could not be queued: send it again with the same id."
    )


class IngestResult(Model):
    """The 202 body of ``POST /v1/events``."""

    accepted: int
    duplicates: int
    rejected: list[Rejected]


# ------------------------------------------------------------------ consume
class ConsumeLimit(Model):
    meter: str
    window: str
    limit: Decimal
    used: Decimal
    remaining: Decimal
    resets_at: AwareDatetime | None
    enforcement: str
    exceeded: bool


class RateLimitMember(Model):
    """One member of the ``RateLimit-Policy`` and ``RateLimit`` headers (``<meter>.<window>``,
    or ``api`` for the API rate limit). Seconds; None when the header did not say."""

    name: str
    limit: int | None = None  # q
    window: int | None = None  # w
    remaining: int | None = None  # r
    reset: int | None = None  # t


class Decision(Model):
    """The answer of ``consume``: 200 (allowed) and 429 (denied) alike."""

    allowed: bool
    reason: Literal["quota_exceeded", "rate_limited"] | None = None
    replayed: bool = False
    limits: list[ConsumeLimit] = Field(default_factory=list)
    retry_after: int | None = Field(default=None, description="Seconds, from Retry-After (a denial).")
    headers: dict[str, str] = Field(
        default_factory=dict, description="The raw RateLimit-Policy, RateLimit and Retry-After headers, to pass on."
    )
    ratelimit: list[RateLimitMember] = Field(default_factory=list)


# ------------------------------------------------------------------ quotas and usage
class Quota(Model):
    meter: str
    window: str
    limit: Decimal
    used: Decimal
    remaining: Decimal
    percent: Decimal
    enforcement: str
    status: str
    resets_at: AwareDatetime | None
    thresholds: list[Decimal]


class Quotas(Model):
    tenant: str
    timezone: str
    quotas: list[Quota]


class SeriesPoint(Model):
    start: AwareDatetime
    end: AwareDatetime
    value: Decimal
    group: dict[str, str] | None = None


class Usage(Model):
    tenant: str
    meter: str
    aggregation: str
    window: str
    timezone: str
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    total: Decimal | None
    series: list[SeriesPoint]


class Notification(Model):
    """An alert as an in-app notification. Fields a type does not carry are None."""

    id: str
    type: str
    severity: str
    tenant_id: str | None
    meter: str | None = None
    window: str | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    limit: Decimal | None = None
    used: Decimal | None = None
    percent: Decimal | None = None
    thresholds: list[Decimal] | None = None
    enforcement: str | None = None
    overage: Decimal | None = None
    occurred_at: AwareDatetime
    read_at: AwareDatetime | None


class Page(Model, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (None: the last)."""

    items: list[T]
    next_cursor: str | None


def pages(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of every page, fetched as they are reached."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


# ------------------------------------------------------------------ tenants, keys, limits
class Address(Model):
    line1: str | None
    line2: str | None
    city: str | None
    postal_code: str | None
    region: str | None
    country: str


class TenantHealth(Model):
    status: str
    has_overages: bool
    updated_at: AwareDatetime | None


class Tenant(Model):
    id: str
    name: str
    plan: str | None
    billing_email: str | None
    currency: str
    timezone: str
    metadata: dict[str, Any] | None
    billing_address: Address | None
    tax_id: str | None
    tax_exempt: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime
    health: TenantHealth
    quotas: list[Quota] | None = Field(default=None, description="In list_tenants(include='quotas') only.")


class Key(Model):
    id: str
    scope: str
    tenant_id: str | None
    name: str | None
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None


class CreatedKey(Model):
    """A new key. ``key`` is the secret, shown only in this answer: store it now
    (``key.get_secret_value()``; it is masked in reprs and logs)."""

    id: str
    key: SecretStr
    scope: str
    tenant_id: str | None
    name: str | None
    created_at: AwareDatetime


class Limit(Model):
    meter: str
    window: str
    limit: Decimal
    enforcement: str
    thresholds: list[Decimal]


class EffectiveLimit(Limit):
    source: Literal["plan", "override"]


class ApiRateLimit(Model):
    per_second: Decimal
    burst: int


class TenantLimits(Model):
    tenant: str
    plan: str | None
    overrides: list[Limit]
    effective: list[EffectiveLimit]
    api_rate_limit: ApiRateLimit
