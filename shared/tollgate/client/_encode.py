"""Encoding events to JSON once, when tracked, and joining them into request bodies.

Encoding at ``track`` time surfaces data that cannot be sent (a set, a naive datetime, NaN)
to the caller at once, as ``TypeError`` or ``ValueError``, and leaves the flusher only joins
to do. Decimals are sent as their text (the API reads numeric strings as exact numbers),
datetimes as RFC 3339 in UTC; a naive datetime is an error (it names no instant).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ._ids import new_id

MAX_BODY_BYTES = 1_048_576  # the API's limit on a request body (1 MiB)
MAX_BATCH_EVENTS = 1_000  # the API's limit on events per request
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
JSON = "application/json"


def rfc3339(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive: give a timezone-aware datetime (e.g. datetime.now(UTC))")
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return str(value)
    return _default_other(value)


def _default_number(value: Any) -> Any:
    return json_number(value) if isinstance(value, Decimal) else _default_other(value)


def _default_other(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: {value!r}")


def _encoder(default: Any) -> json.JSONEncoder:
    return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=default)


# Built once: ``json.dumps`` with options builds an encoder per call, a third of track's CPU.
_TEXT_DECIMALS, _NUMBER_DECIMALS = _encoder(_default), _encoder(_default_number)


def dumps(value: Any, *, decimals_as_numbers: bool = False) -> bytes:
    """Compact JSON; NaN and infinities are an error (no JSON number holds them). Decimals are
    their text, or with ``decimals_as_numbers`` JSON numbers (``json_number``)."""
    return (_NUMBER_DECIMALS if decimals_as_numbers else _TEXT_DECIMALS).encode(value).encode()


def encode_event(
    type_: str,
    event_id: str,
    *,
    subject: str | None = None,
    time: datetime | None = None,
    data: dict[str, Any] | None = None,
    source: str | None = None,
) -> bytes:
    """One event's JSON. ``source`` given: a CloudEvents 1.0 event (``specversion`` too)."""
    if not isinstance(type_, str) or not type_:
        raise ValueError("type must be a non-empty string (the meter key)")
    if data is not None and not isinstance(data, dict):
        raise TypeError(f"data must be a dict, not {type(data).__name__}")
    event: dict[str, Any] = {"id": event_id, "type": type_}
    if source is not None:
        event["specversion"] = "1.0"
        event["source"] = source
    if subject is not None:
        event["subject"] = subject
    if time is not None:
        event["time"] = rfc3339(time)
    if data is not None:
        event["data"] = data
    body = dumps(event)
    if len(body) + 2 > MAX_BODY_BYTES:
        raise ValueError(f"the event is {len(body)} bytes encoded; a request holds at most {MAX_BODY_BYTES}")
    return body


def join(encoded: list[bytes]) -> bytes:
    """A JSON array of pre-encoded events."""
    return b"[" + b",".join(encoded) + b"]"


def batch_bytes(sizes_sum: int, count: int) -> int:
    """The size of ``join`` of ``count`` events of ``sizes_sum`` bytes in all."""
    return sizes_sum + 2 + max(0, count - 1)


def json_number(value: int | float | Decimal) -> int | float:
    """A quantity as a JSON number, exactly, for the routes that take numbers only
    (consume's ``amount``, limits). A Decimal no double holds exactly is an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"{value!r} is not a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        if Decimal(repr(as_float)) != value:
            raise ValueError(f"{value} has no exact JSON number form (more than 17 significant digits)")
        return as_float
    return value


def encode_events(events: Any, source: str | None = None) -> list[bytes]:
    """Events given as dicts (``send_events``), each with an id: a new UUIDv7 when missing
    (and with ``source``, the CloudEvents attributes when missing)."""
    out = []
    for event in events:
        doc = dict(event)
        doc.setdefault("id", new_id())
        if source is not None:
            doc.setdefault("specversion", "1.0")
            doc.setdefault("source", source)
        out.append(dumps(doc))
    return out
