"""Usage events and the usage message between ingest and the consumer. Pure; no AWS.

One message carries many events of one tenant, plus everything the consumer needs to count
them without a lookup: the tenant's time zone and each meter's spec as they were when the
events were accepted. Its encoding is ``tollgate.wire.usage_message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .meters import MeterSpec


@dataclass(frozen=True)
class UsageEvent:
    id: str
    meter: str
    time: str  # times.format_time() text
    value: str  # decimal text, or the unique value's text
    dims: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    subject: str | None = None

    def decimal_value(self) -> Decimal:
        return Decimal(self.value)

    def as_cloudevent(self, tenant: str) -> dict[str, Any]:
        """The stored raw event as the API returns it (CloudEvents 1.0 attributes)."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "type": self.meter,
            "source": self.source or "tollgate",
            "subject": tenant,
            "time": self.time,
            "data": self.data,
        }


@dataclass(frozen=True)
class UsageMessage:
    tenant: str
    timezone: str
    meters: dict[str, MeterSpec]
    events: list[UsageEvent]
