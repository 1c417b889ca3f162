"""Request and response schemas (pydantic). They validate requests and generate the OpenAPI
document, so the two cannot disagree."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tollgate.domain.countries import MAX_ADDRESS_FIELD, Address, is_country
from tollgate.domain.currency import is_currency
from tollgate.domain.health import TenantHealth
from tollgate.domain.ids import ID_MAX_LENGTH, NEW_ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.domain.meters import (
    DEFAULT_SCALE,
    DIMENSION_PATTERN,
    MAX_GROUP_BY,
    MAX_SCALE,
    METER_KEY_PATTERN,
    Aggregation,
    Rounding,
)
from tollgate.domain.numbers import json_number
from tollgate.domain.periods import instant_problem, is_valid_timezone
from tollgate.domain.quota import Status
from tollgate.domain.records import ApiKeyRecord, Meter, Tenant

TenantId = Annotated[str, StringConstraints(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$", max_length=320)]
PlanId = Annotated[str, StringConstraints(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]
MetadataValue = str | int | float | bool | None

T = TypeVar("T")


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently dropped."""

    model_config = ConfigDict(extra="forbid")


def _check_currency(v: str) -> str:
    if not is_currency(v):
        raise ValueError(f"{v!r} is not an ISO 4217 currency code")
    return v


def _check_timezone(v: str) -> str:
    if not is_valid_timezone(v):
        raise ValueError(f"{v!r} is not an IANA Area/Location time zone name (e.g. Europe/Paris) or UTC")
    return v


def _check_country(v: str) -> str:
    if not is_country(v):
        raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 country code")
    return v


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), AfterValidator(_check_country)]
"""An ISO 3166-1 alpha-2 code, upper case (tollgate.domain.countries)."""
Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_timezone)]


def _check_instant(v: datetime) -> datetime:
    problem = instant_problem(v)
    if problem:
        raise ValueError(problem)
    return v


Instant = Annotated[AwareDatetime, AfterValidator(_check_instant)]
"""An RFC 3339 date-time with an offset, from 1970 to 9998 (tollgate.domain.periods.EARLIEST, LATEST)."""


def _check_metadata(v: dict[str, MetadataValue]) -> dict[str, MetadataValue]:
    if len(v) > 50:
        raise ValueError("at most 50 keys")
    for k, val in v.items():
        if len(k) > 64 or (isinstance(val, str) and len(val) > 1024):
            raise ValueError("keys are at most 64 characters and string values at most 1024")
    return v


Metadata = Annotated[dict[str, MetadataValue], AfterValidator(_check_metadata)]


AddressLine = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ADDRESS_FIELD, strip_whitespace=True)]
TaxId = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class AddressIn(Strict):
    line1: AddressLine | None = None
    line2: AddressLine | None = None
    city: AddressLine | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=32, strip_whitespace=True)] | None = None
    region: AddressLine | None = Field(
        default=None, description="State, province or region; a tax rate with the same region (any case) matches it."
    )
    country: Country = Field(description="ISO 3166-1 alpha-2 code, upper case (e.g. FR).")

    def domain(self) -> Address:
        return Address(**self.model_dump())


class AddressOut(BaseModel):
    line1: str | None
    line2: str | None
    city: str | None
    postal_code: str | None
    region: str | None
    country: str


class TenantCreate(Strict):
    id: TenantId = Field(
        description="Your id for the tenant: letters, digits, `_`, `.`, `-`, not only dots; 1 to 64 characters."
    )
    name: Name
    plan: PlanId | None = None
    billing_email: Email | None = None
    currency: Currency = Field(
        default="USD",
        description="ISO 4217 code; must be the currency of the tenant's plan (422 naming `plan` otherwise).",
    )
    timezone: Timezone = Field(
        default="UTC",
        description="IANA Area/Location zone (e.g. Europe/Paris), or UTC; billing windows follow it.",
    )
    metadata: Metadata | None = None
    billing_address: AddressIn | None = Field(default=None, description="Decides the tax rates an invoice applies.")
    tax_id: TaxId | None = Field(
        default=None, description="VAT or other tax number; with an EU address, reverse charge."
    )
    tax_exempt: bool = Field(default=False, description="An exempt tenant pays no tax.")

    def fields(self) -> dict[str, Any]:
        """The tenant's fields, the address as its domain record."""
        out = self.model_dump()
        out["billing_address"] = self.billing_address.domain() if self.billing_address else None
        return out


Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


class TenantPatch(Strict):
    name: Name | None = None
    plan: PlanId | None = Field(default=None, description="Change of plan (null: no plan); needs `reason`.")
    reason: Reason | None = Field(default=None, description="Why the plan changes; kept in the audit trail.")
    billing_email: Email | None = None
    currency: Currency | None = None
    timezone: Timezone | None = None
    metadata: Metadata | None = None
    billing_address: AddressIn | None = Field(default=None, description="Replaces the whole address (null: none).")
    tax_id: TaxId | None = None
    tax_exempt: bool = False

    def changes(self) -> dict[str, Any]:
        """The fields given (``reason`` included), the address as its domain record."""
        out = self.model_dump(exclude_unset=True)
        if "billing_address" in out:
            out["billing_address"] = self.billing_address.domain() if self.billing_address else None
        return out

    @model_validator(mode="after")
    def _not_empty(self) -> TenantPatch:
        if not self.model_fields_set - {"reason"}:
            raise ValueError("give at least one field to change")
        return self


class HealthOut(BaseModel):
    status: Status = Field(
        description="The worst status over the tenant's effective limits in their current windows, with the levels "
        "of /v1/quotas: healthy < 75 % <= caution < 90 % <= warning < 100 % <= critical."
    )
    has_overages: bool = Field(description="Whether any current window is strictly above its limit.")
    updated_at: datetime | None = Field(
        description="When it was last computed (as usage is counted, and by the sweep); null: never evaluated."
    )

    @classmethod
    def of(cls, h: TenantHealth) -> HealthOut:
        return cls(status=h.status, has_overages=h.has_overages, updated_at=h.updated_at)


class TenantOut(BaseModel):
    id: str
    name: str
    plan: str | None
    billing_email: str | None
    currency: str
    timezone: str
    metadata: dict[str, Any] | None
    billing_address: AddressOut | None
    tax_id: str | None
    tax_exempt: bool
    created_at: datetime
    updated_at: datetime
    health: HealthOut

    @classmethod
    def of(cls, t: Tenant, health: TenantHealth | None = None) -> TenantOut:
        """``health`` None: never evaluated (a tenant just created)."""
        address = AddressOut(**t.billing_address.as_dict()) if t.billing_address else None
        fields = t.__dict__ | {"billing_address": address}
        return cls(**fields, health=HealthOut.of(health or TenantHealth.never_evaluated(t.id)))


class MeterCreate(Strict):
    key: Annotated[str, StringConstraints(pattern=METER_KEY_PATTERN)] = Field(
        description="The event `type` that feeds this meter."
    )
    name: Name
    unit: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    aggregation: Aggregation
    value_property: Annotated[str, StringConstraints(pattern=DIMENSION_PATTERN)] = Field(
        default="value", description="The field of the event's `data` holding the value (ignored by `count`)."
    )
    group_by: list[Annotated[str, StringConstraints(pattern=DIMENSION_PATTERN)]] = Field(
        default_factory=list, max_length=MAX_GROUP_BY, description="Up to 5 dimension names read from `data`."
    )
    scale: int = Field(
        default=DEFAULT_SCALE,
        ge=0,
        le=MAX_SCALE,
        description="Decimal places a value may have (sum, max, latest). It also bounds a value: below "
        "10^(22 - scale) on a sum meter (so 10^16 events fit one counter's 38 digits), "
        "10^(38 - scale) on max and latest. See docs/storage.md, Numbers.",
    )
    rounding: Rounding = Field(
        default=Rounding.REJECT,
        description="A value with more decimals than `scale`: `reject` it (422), or round it "
        "(`half_even`, `half_up`, `down` toward zero, `up` away from zero).",
    )

    @field_validator("group_by")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("dimension names must be unique")
        return v


class MeterOut(BaseModel):
    key: str
    name: str
    unit: str | None
    aggregation: Aggregation
    value_property: str
    group_by: list[str]
    scale: int
    rounding: Rounding
    created_at: datetime

    @classmethod
    def of(cls, m: Meter) -> MeterOut:
        return cls(**m.__dict__)


class KeyCreate(Strict):
    scope: Scope
    tenant_id: TenantId | None = Field(default=None, description="Required for, and only for, `tenant` scope.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _tenant_matches_scope(self) -> KeyCreate:
        if self.scope is Scope.TENANT and not self.tenant_id:
            raise ValueError("tenant_id is required for a tenant-scoped key")
        if self.scope is not Scope.TENANT and self.tenant_id:
            raise ValueError("tenant_id is only for tenant-scoped keys")
        return self


class KeyOut(BaseModel):
    id: str
    scope: Scope
    tenant_id: str | None
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, r: ApiKeyRecord) -> KeyOut:
        return cls(
            id=r.id, scope=r.scope, tenant_id=r.tenant_id, name=r.name, created_at=r.created_at, revoked_at=r.revoked_at
        )


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="The secret. Shown only in this response; store it now.")
    scope: Scope
    tenant_id: str | None
    name: str | None
    created_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class Health(BaseModel):
    status: Literal["ok"]


Number = Annotated[
    Decimal,
    PlainSerializer(json_number, return_type=Any),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "number"}]}, mode="serialization"),
]
"""A quantity in a response, exact (``tollgate.domain.numbers.json_number``): a JSON number,
or in the rare case no double holds the value (more than 15 to 17 significant digits in a
fraction) its decimal text."""


class SeriesPointOut(BaseModel):
    start: datetime = Field(description="Window start, in the tenant's zone, with its offset.")
    end: datetime
    value: Number
    group: dict[str, str] | None = None


class UsageOut(BaseModel):
    tenant: str
    meter: str
    aggregation: Aggregation
    window: Literal["hour", "day", "month"]
    timezone: str
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    total: Number | None = Field(
        description="Aggregate over the whole range (null for max/latest with no usage). For unique_count: the exact "
        "number of distinct values when the range is exactly one day or one month in the tenant's zone, else null "
        "(distinct counts of several windows do not add up; the series points are exact)."
    )
    series: list[SeriesPointOut] = Field(description="One point per non-empty window, oldest first.")

    model_config = ConfigDict(populate_by_name=True)


DATA_OMITTED_DOC = {
    "type": "string",
    "description": "Only when `data` is null: why the stored data cannot be shown (nested more than 64 levels deep - "
    "ingest took deeper data before it limited nesting -, not an object, or holding a number JSON "
    "cannot carry). The event was counted as usual.",
}


def _document_data_omitted(schema: dict[str, Any]) -> None:
    schema.setdefault("properties", {})["dataomitted"] = DATA_OMITTED_DOC


class StoredEvent(BaseModel):
    """A raw usage event as counted (CloudEvents 1.0 attributes). ``dataomitted`` (a CloudEvents
    extension attribute) is present only with ``"data": null``: an extra field, so other events
    do not carry a null marker."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_document_data_omitted)

    specversion: str
    id: str
    type: str
    source: str
    subject: str
    time: str
    data: dict[str, Any] | None = Field(
        description="The event's data; null when it cannot be shown, and then `dataomitted` says why."
    )


class EventsPage(BaseModel):
    items: list[StoredEvent] = Field(description="Newest first.")
    next_cursor: str | None
