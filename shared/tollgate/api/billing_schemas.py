"""Schemas of the billing catalog: tax rates, discounts and tenants' discounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from tollgate.domain.discounts import (
    MAX_TENANT_DISCOUNTS,
    MAX_TIERS,
    AppliesTo,
    Conditions,
    Discount,
    DiscountType,
    MinUsage,
    VolumeTier,
)
from tollgate.domain.ids import ID_MAX_LENGTH, NEW_ID_PATTERN
from tollgate.domain.meters import DIMENSION_PATTERN
from tollgate.domain.tax import MAX_PERCENT, TaxRate

from .limit_schemas import JsonNumber, MeterKey
from .schemas import AddressLine, Country, Instant, Name, Number, PlanId, Reason, Strict

CatalogId = Annotated[str, StringConstraints(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]


class TaxRateIn(Strict):
    name: Name
    percent: JsonNumber = Field(ge=0, le=MAX_PERCENT, description="0 to 100, e.g. 20 or 7.25.")
    country: Country = Field(description="ISO 3166-1 alpha-2.")
    region: AddressLine | None = Field(
        default=None, description="Only addresses with this region (any case); over a rate of the country alone."
    )

    def domain(self, rate_id: str) -> TaxRate:
        return TaxRate(rate_id, self.name, self.percent, self.country, self.region)


class TaxRateOut(BaseModel):
    id: str
    name: str
    percent: Number
    country: str
    region: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, r: TaxRate) -> TaxRateOut:
        return cls(**r.__dict__)


class TaxRatesOut(BaseModel):
    items: list[TaxRateOut]


class VolumeTierIn(Strict):
    from_amount: JsonNumber = Field(ge=0, description="The subtotal (of what it applies to) from which it applies.")
    percent: JsonNumber = Field(ge=0, le=100)


class AppliesToIn(Strict):
    meters: list[MeterKey] = Field(default_factory=list, max_length=50, description="Only charges of these meters.")
    filter: (
        dict[
            Annotated[str, StringConstraints(pattern=DIMENSION_PATTERN)],
            Annotated[str, StringConstraints(min_length=1, max_length=256)],
        ]
        | None
    ) = Field(default=None, description="`{<dimension>: <value>}`: only charges filtered on exactly this value.")

    @field_validator("filter")
    @classmethod
    def _one(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None and len(v) != 1:
            raise ValueError("one dimension and its value")
        return v


class MinUsageIn(Strict):
    meter: MeterKey
    quantity: JsonNumber = Field(ge=0)


class ConditionsIn(Strict):
    plans: list[PlanId] = Field(default_factory=list, max_length=50, description="Only tenants on one of these plans.")
    min_subtotal: JsonNumber | None = Field(default=None, ge=0, description="Subtotal before discounts, at least.")
    min_usage: MinUsageIn | None = Field(default=None, description="The meter's period quantity, at least.")
    valid_from: Instant | None = Field(default=None, description="Inclusive; the period must overlap the window.")
    valid_to: Instant | None = Field(default=None, description="Exclusive.")
    first_invoice_only: bool = False


class DiscountIn(Strict):
    name: Name
    type: DiscountType
    percent: JsonNumber | None = Field(default=None, description="percentage: 0 to 100.")
    amount: JsonNumber | None = Field(default=None, description="fixed: in the invoice's currency.")
    tiers: list[VolumeTierIn] | None = Field(
        default=None, max_length=MAX_TIERS, description="volume: ascending `from_amount`."
    )
    applies_to: AppliesToIn | None = None
    conditions: ConditionsIn | None = None
    priority: int = Field(ge=0, le=1_000_000, description="Ascending: lower applies first.")
    stackable: bool = Field(default=True, description="false: no discount after this one applies.")

    def domain(self, discount_id: str) -> Discount:
        a, c = self.applies_to, self.conditions or ConditionsIn()
        return Discount(
            id=discount_id,
            name=self.name,
            type=self.type,
            priority=self.priority,
            percent=self.percent,
            amount=self.amount,
            tiers=tuple(VolumeTier(t.from_amount, t.percent) for t in self.tiers or ()),
            applies_to=None
            if a is None
            else AppliesTo(tuple(a.meters), next(iter(a.filter.items())) if a.filter else None),
            conditions=Conditions(
                plans=tuple(c.plans),
                min_subtotal=c.min_subtotal,
                min_usage=MinUsage(c.min_usage.meter, c.min_usage.quantity) if c.min_usage else None,
                valid_from=c.valid_from,
                valid_to=c.valid_to,
                first_invoice_only=c.first_invoice_only,
            ),
            stackable=self.stackable,
        )


class VolumeTierOut(BaseModel):
    from_amount: Number
    percent: Number


class AppliesToOut(BaseModel):
    meters: list[str]
    filter: dict[str, str] | None


class MinUsageOut(BaseModel):
    meter: str
    quantity: Number


class ConditionsOut(BaseModel):
    plans: list[str]
    min_subtotal: Number | None
    min_usage: MinUsageOut | None
    valid_from: datetime | None
    valid_to: datetime | None
    first_invoice_only: bool


class DiscountOut(BaseModel):
    id: str
    name: str
    type: DiscountType
    percent: Number | None
    amount: Number | None
    tiers: list[VolumeTierOut]
    applies_to: AppliesToOut | None
    conditions: ConditionsOut
    priority: int
    stackable: bool
    assigned_tenants: int = Field(description="Tenants it is assigned to; 0: it applies to every eligible tenant.")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, d: Discount) -> DiscountOut:
        c, a = d.conditions, d.applies_to
        return cls(
            id=d.id,
            name=d.name,
            type=d.type,
            percent=d.percent,
            amount=d.amount,
            tiers=[VolumeTierOut(from_amount=t.from_amount, percent=t.percent) for t in d.tiers],
            applies_to=None
            if a is None
            else AppliesToOut(meters=list(a.meters), filter=dict([a.filter]) if a.filter else None),
            conditions=ConditionsOut(
                plans=list(c.plans),
                min_subtotal=c.min_subtotal,
                min_usage=MinUsageOut(meter=c.min_usage.meter, quantity=c.min_usage.quantity) if c.min_usage else None,
                valid_from=c.valid_from,
                valid_to=c.valid_to,
                first_invoice_only=c.first_invoice_only,
            ),
            priority=d.priority,
            stackable=d.stackable,
            assigned_tenants=d.assigned_tenants,
            created_at=d.created_at,
            updated_at=d.updated_at,
        )


class DiscountsOut(BaseModel):
    items: list[DiscountOut]


class TenantDiscountsIn(Strict):
    discount_ids: list[CatalogId] = Field(
        max_length=MAX_TENANT_DISCOUNTS, description="Replaces the tenant's discounts; `[]` removes them all."
    )
    reason: Reason = Field(description="Kept in the audit trail.")


class TenantDiscountsOut(BaseModel):
    tenant: str
    items: list[DiscountOut]
