"""Usage events and the SQS message format between ingest and the consumer. Pure; no AWS.

One message carries many events of one tenant (up to ~240 KB), plus everything the
consumer needs to count them without a lookup: the tenant's time zone and each meter's
spec as they were when the events were accepted.

Message body (JSON, version 1)::

    {"v": 1, "tenant": "acme", "tz": "Europe/Paris",
     "meters": {"api_calls": {"aggregation": "sum", "value_property": "value", "group_by": ["region"]}},
     "events": [{"id": "e1", "type": "api_calls", "time": "2026-11-20T05:00:00.000000Z",
                 "value": "1.5", "dims": {"region": "eu"},
                 "data": {...}, "source": "...", "subject": "acme"}]}

``value`` is the decimal text (or, for unique_count, the value's text); ``time`` is fixed-width
UTC with microseconds so that text order is time order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .meters import Aggregation, MeterSpec

MESSAGE_VERSION = 1
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class UsageEvent:
    id: str
    meter: str
    time: str  # format_time() text
    value: str  # decimal text, or the unique value's text
    dims: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    subject: str | None = None

    def decimal_value(self) -> Decimal:
        return Decimal(self.value)

    def as_message(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "type": self.meter, "time": self.time, "value": self.value}
        if self.dims:
            d["dims"] = self.dims
        if self.data:
            d["data"] = self.data
        if self.source is not None:
            d["source"] = self.source
        if self.subject is not None:
            d["subject"] = self.subject
        return d

    @classmethod
    def from_message(cls, d: dict) -> UsageEvent:
        return cls(
            id=d["id"],
            meter=d["type"],
            time=d["time"],
            value=d["value"],
            dims=d.get("dims") or {},
            data=d.get("data") or {},
            source=d.get("source"),
            subject=d.get("subject"),
        )

    def as_cloudevent(self, tenant: str) -> dict:
        """The stored raw event as the API returns it (CloudEvents 1.0 attributes)."""
        out: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "type": self.meter,
            "source": self.source or "tollgate",
            "subject": tenant,
            "time": self.time,
            "data": self.data,
        }
        return out


@dataclass(frozen=True)
class UsageMessage:
    tenant: str
    timezone: str
    meters: dict[str, MeterSpec]
    events: list[UsageEvent]

    def encode(self) -> str:
        return json.dumps(
            {
                "v": MESSAGE_VERSION,
                "tenant": self.tenant,
                "tz": self.timezone,
                "meters": {k: m.as_message() for k, m in self.meters.items()},
                "events": [e.as_message() for e in self.events],
            },
            separators=(",", ":"),
            default=_json_default,
        )

    @classmethod
    def decode(cls, body: str) -> UsageMessage:
        """Raises ValueError/KeyError/TypeError on a malformed (poison) body."""
        d = json.loads(body)
        if d.get("v") != MESSAGE_VERSION:
            raise ValueError(f"unsupported message version {d.get('v')!r}")
        meters = {k: MeterSpec.from_message(k, v) for k, v in d["meters"].items()}
        events = [UsageEvent.from_message(e) for e in d["events"]]
        for e in events:
            if e.meter not in meters:
                raise ValueError(f"event {e.id!r} names meter {e.meter!r} missing from the message")
            parse_time(e.time)
            if meters[e.meter].aggregation is not Aggregation.UNIQUE_COUNT:
                Decimal(e.value)
        return cls(tenant=d["tenant"], timezone=d["tz"], meters=meters, events=events)


def _json_default(o: object) -> Any:
    if isinstance(o, Decimal):
        return int(o) if o == o.to_integral_value() else float(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
