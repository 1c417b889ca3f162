"""The entities of the admin API as plain records. Pure; no AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .countries import Address
from .keys import Principal, Scope
from .meters import DEFAULT_SCALE, Aggregation, MeterSpec, Rounding


@dataclass
class Tenant:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    plan: str | None = None
    billing_email: str | None = None
    currency: str = "USD"
    timezone: str = "UTC"
    metadata: dict[str, Any] | None = None
    billing_address: Address | None = None
    tax_id: str | None = None
    tax_exempt: bool = False


@dataclass
class Meter:
    key: str
    name: str
    aggregation: Aggregation
    created_at: datetime
    unit: str | None = None
    value_property: str = "value"
    group_by: list[str] = field(default_factory=list)
    scale: int = DEFAULT_SCALE
    rounding: Rounding = Rounding.REJECT

    def spec(self) -> MeterSpec:
        return MeterSpec(
            self.key, self.aggregation, self.value_property, tuple(self.group_by), self.scale, self.rounding
        )


@dataclass
class ApiKeyRecord:
    id: str
    key_hash: str
    scope: Scope
    created_at: datetime
    tenant_id: str | None = None
    name: str | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal(key_id=self.id, scope=self.scope, tenant_id=self.tenant_id)
