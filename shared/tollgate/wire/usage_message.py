"""The SQS usage message between ingest and the consumer: its one codec. Pure; no AWS.

Message body (JSON, version 1, compact, ASCII: ``len()`` is the byte size SQS measures)::

    {"v":1,"tenant":"acme","tz":"Europe/Paris",
     "meters":{"api_calls":{"aggregation":"sum","value_property":"value","group_by":["region"],"scale":9}},
     "events":[{"id":"e1","type":"api_calls","time":"2026-11-20T05:00:00.000000Z",
                "value":"1.5","dims":{"region":"eu"},"data":{...},"source":"..."}]}

``value`` is the decimal text (or, for unique_count, the value's text); ``time`` is
``times.format_time`` text. Meters are in key order.

Ingest writes a message in two steps, so that a request of 1,000 events encodes each event
once: ``event_json(event_fields(...))`` per event (the validator, on the hot path), then ``head`` + the encoded
events + ``TAIL`` per message (the queue's packing). ``encode`` makes the same bytes from a
``UsageMessage`` (tests and tools); ``decode`` reads it back (the consumer).

The raw-event log stores events in the same form (``event_dict``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tollgate.domain.meters import DEFAULT_SCALE, Aggregation, MeterSpec
from tollgate.domain.times import parse_time
from tollgate.domain.usage import UsageEvent, UsageMessage

VERSION = 1
TAIL = "]}"

_envelope_json = json.JSONEncoder(separators=(",", ":")).encode
event_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False).encode
"""One event (``event_fields``) as it stands in ``events``: compact, ASCII-only (so len() is
the byte size), and no NaN/Infinity - a non-finite number hiding in ``data`` (JSON ``1e999``
parses as inf) is an error, not an invalid message. Raises ValueError for a non-finite float,
RecursionError for data nested too deeply, TypeError for a value JSON does not have."""


# ------------------------------------------------------------------ events
def event_fields(
    event_id: str,
    meter: str,
    time: str,
    value: str,
    dims: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
    source: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """One event of the message as a dict: empty ``dims`` and ``data`` and absent ``source``
    and ``subject`` are left out."""
    d: dict[str, Any] = {"id": event_id, "type": meter, "time": time, "value": value}
    if dims:
        d["dims"] = dims
    if data:
        d["data"] = data
    if source is not None:
        d["source"] = source
    if subject is not None:
        d["subject"] = subject
    return d


def event_dict(e: UsageEvent) -> dict[str, Any]:
    return event_fields(e.id, e.meter, e.time, e.value, e.dims, e.data, e.source, e.subject)


def event_of(d: Mapping[str, Any]) -> UsageEvent:
    """Raises KeyError for a missing field."""
    return UsageEvent(
        id=d["id"],
        meter=d["type"],
        time=d["time"],
        value=d["value"],
        dims=d.get("dims") or {},
        data=d.get("data") or {},
        source=d.get("source"),
        subject=d.get("subject"),
    )


# ------------------------------------------------------------------ meters
def meter_dict(spec: MeterSpec) -> dict[str, Any]:
    """What the consumer needs of a meter (its rounding applied at ingest, so it is left out)."""
    return {
        "aggregation": spec.aggregation.value,
        "value_property": spec.value_property,
        "group_by": list(spec.group_by),
        "scale": spec.scale,
    }


def meter_of(key: str, d: Mapping[str, Any]) -> MeterSpec:
    return MeterSpec(
        key,
        Aggregation(d["aggregation"]),
        d.get("value_property", "value"),
        tuple(d.get("group_by") or ()),
        int(d.get("scale", DEFAULT_SCALE)),
    )


# ------------------------------------------------------------------ messages
def head(tenant: str, timezone: str, meters: Mapping[str, MeterSpec]) -> str:
    """The message up to its first event (meters in key order)."""
    specs = _envelope_json({k: meter_dict(meters[k]) for k in sorted(meters)})
    return (
        f'{{"v":{VERSION},"tenant":{_envelope_json(tenant)},"tz":{_envelope_json(timezone)},"meters":{specs},"events":['
    )


def body(message_head: str, encoded_events: Iterable[str]) -> str:
    return message_head + ",".join(encoded_events) + TAIL


def encode(message: UsageMessage) -> str:
    """The body ingest sends for ``message`` (tests and tools build messages with it)."""
    events = [event_json(event_dict(e)) for e in message.events]
    return body(head(message.tenant, message.timezone, message.meters), events)


def decode(text: str | bytes) -> UsageMessage:
    """Raises ValueError, KeyError or TypeError on a malformed (poison) body."""
    d = json.loads(text)
    if d.get("v") != VERSION:
        raise ValueError(f"unsupported message version {d.get('v')!r}")
    meters = {k: meter_of(k, v) for k, v in d["meters"].items()}
    events = [event_of(e) for e in d["events"]]
    for e in events:
        if e.meter not in meters:
            raise ValueError(f"event {e.id!r} names meter {e.meter!r} missing from the message")
        parse_time(e.time)
        if meters[e.meter].aggregation is not Aggregation.UNIQUE_COUNT:
            Decimal(e.value)
    return UsageMessage(tenant=d["tenant"], timezone=d["tz"], meters=meters, events=events)


# ------------------------------------------------------------------ packing into messages
MAX_MESSAGE_BYTES = 240 * 1024
"""A message body's ceiling: SQS takes 256 KiB, less room for attributes."""


@dataclass(frozen=True, slots=True)
class Packed:
    body: str
    indexes: tuple[int, ...]  # request positions of the events it carries

    @property
    def size(self) -> int:
        return len(self.body)


def pack(
    tenant: str,
    timezone: str,
    meters: dict[str, MeterSpec],
    events: Sequence[tuple[int, str, str]],
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[Packed]:
    """Pack one tenant's events ``(index, meter key, encoded event)`` into as few message bodies
    as fit ``max_bytes``. Each body is what ``encode`` would produce for its
    events, naming only the meters they use. An event too large for any message raises
    ValueError (the validator's per-event limit keeps that from happening)."""
    # Size the header with every meter of the tenant: an upper bound for each chunk's header.
    room = max_bytes - len(head(tenant, timezone, meters)) - len(TAIL)
    out: list[Packed] = []
    chunk: list[str] = []
    idx: list[int] = []
    used: set[str] = set()
    size = 0
    for index, meter, encoded in events:
        extra = len(encoded) + (1 if chunk else 0)
        if chunk and size + extra > room:
            out.append(_packed(tenant, timezone, meters, used, chunk, idx))
            chunk, idx, used, size, extra = [], [], set(), 0, len(encoded)
        if extra > room:
            raise ValueError(f"event at index {index} is {len(encoded)} bytes; no message can hold it")
        chunk.append(encoded)
        idx.append(index)
        used.add(meter)
        size += extra
    if chunk:
        out.append(_packed(tenant, timezone, meters, used, chunk, idx))
    return out


def _packed(
    tenant: str, tz: str, meters: dict[str, MeterSpec], used: set[str], chunk: list[str], idx: list[int]
) -> Packed:
    message_head = head(tenant, tz, {k: meters[k] for k in used})
    return Packed(body(message_head, chunk), tuple(idx))
