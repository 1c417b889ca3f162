"""Incoming usage events: the rules an event must follow, and its encoding for the usage
message, or its per-event errors. Pure; no AWS. The ingest hot path, so it is plain Python on
dicts (no pydantic per event), measured by ``python -m bench``. The HTTP side (media types,
``ce-*`` headers, the body as JSON) is ``tollgate.api.cloudevents``.

An event has CloudEvents attributes: ``id`` (1-256 characters; the dedupe key, unique per
tenant), ``type`` (the meter key), ``subject`` (the tenant id; a tenant-scoped key may omit it),
``time`` (RFC 3339 with an offset; default now), ``data`` (an object: the value and the
dimensions), and optionally ``source`` and ``specversion`` (``"1.0"``). Other attributes:
``datacontenttype`` must be JSON; ``dataschema`` and extension attributes (lowercase letters
and digits, the CloudEvents naming rule) are accepted and not stored; ``data_base64`` and any
other name is an error, so a typo such as ``Subject`` or ``tenant_id`` is never silently lost.

Field names in errors are ``[i].attribute`` (``[3].time``, ``[0].data.value``); ``[i]`` is the
event's position in the request (0 for a single event) and ``body`` is the request as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tollgate.wire.usage_message import event_fields, event_json

from .errors import FieldError
from .ids import ID_MAX_LENGTH, is_id
from .meters import METER_KEY_PATTERN, InvalidValue, MeterSpec, extract, plain
from .times import MAX_AGE, MAX_AHEAD, event_time, format_time

MAX_EVENTS = 1000  # per request
MAX_ID_LENGTH = 256
MAX_SOURCE_LENGTH = 1024
MAX_EVENT_BYTES = 32 * 1024  # one event in the SQS message form (compact JSON)
MAX_DATA_DEPTH = 32  # objects and arrays nested inside ``data`` (``data`` itself is depth 1)

_USED = frozenset({"id", "type", "subject", "time", "data", "source", "specversion"})
_IGNORED = frozenset({"dataschema", "datacontenttype"})
_EXTENSION = re.compile(r"[a-z0-9]{1,64}\Z")
_METER_KEY = re.compile(METER_KEY_PATTERN)
_JSON_MEDIA = re.compile(r"^(application/json|application/[^;\s]+\+json|text/json)\s*(;.*)?$", re.IGNORECASE)


# ------------------------------------------------------------------ validation
@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid event, encoded as one element of ``UsageMessage.events``."""

    index: int
    tenant: str
    id: str
    meter: str
    encoded: str  # the event as it stands in the usage message (wire.usage_message.event_json)


@dataclass(slots=True)
class Rejected:
    """An event not recorded. ``retryable``: the event was valid but could not be queued, so
    sending it again unchanged (same id) can succeed; False when the event itself must be fixed."""

    index: int
    id: str | None
    errors: list[FieldError]
    retryable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "errors": [e.as_dict() for e in self.errors],
            "retryable": self.retryable,
        }


@dataclass
class Batch:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    timezones: dict[str, str] = field(default_factory=dict)  # tenant -> IANA zone, of accepted events
    meters: dict[str, MeterSpec] = field(default_factory=dict)  # key -> spec, of accepted events

    def errors(self) -> list[FieldError]:
        return [e for r in self.rejected for e in r.errors]


def tenant_not_found(tenant_id: str) -> str:
    """The one message for an unknown tenant and for another tenant named by a tenant key."""
    return f"tenant {tenant_id!r} not found"


class EventValidator:
    """Validates the raw events of one request.

    ``own_tenant``: the tenant of a tenant-scoped key (events may omit ``subject`` and may not
    name another tenant), or None for admin and ingest keys (``subject`` required).
    ``timezone_of`` / ``meter_of``: the catalogue (None when not found). Each distinct tenant
    and meter is looked up once per request, misses included.
    """

    def __init__(
        self,
        *,
        now: datetime,
        own_tenant: str | None,
        timezone_of: Callable[[str], str | None],
        meter_of: Callable[[str], MeterSpec | None],
    ):
        self.now = now
        self.lo = now - MAX_AGE
        self.hi = now + MAX_AHEAD
        self.default_time = format_time(now)
        self.own_tenant = own_tenant
        self._timezone_of = timezone_of
        self._meter_of = meter_of
        self._tenants: dict[str, str | None] = {}
        self._meters: dict[str, MeterSpec | None] = {}

    # -------------------------------------------------------------- lookups (memoised)
    def _meter(self, key: Any) -> tuple[MeterSpec | None, str | None]:
        try:
            spec = self._meters[key]
        except KeyError:
            if not isinstance(key, str):
                return None, "is required (the meter key)" if key is None else "must be a string (the meter key)"
            spec = self._meter_of(key) if _METER_KEY.match(key) else None
            self._meters[key] = spec
        except TypeError:  # unhashable: a list or an object
            return None, "must be a string (the meter key)"
        if spec is None:
            return None, f"meter {key!r} not found" if len(key) <= 64 else "meter not found"
        return spec, None

    def _tenant(self, subject: Any) -> tuple[str | None, str | None]:
        own = self.own_tenant
        if subject is None:
            if own is None:
                return None, "is required (the tenant id) for this key's scope"
            subject = own
        elif not isinstance(subject, str):
            return None, "must be a string (the tenant id)"
        elif own is not None and subject != own:
            return None, tenant_not_found(subject) if len(subject) <= ID_MAX_LENGTH else "tenant not found"
        try:
            tz = self._tenants[subject]
        except KeyError:
            tz = self._timezone_of(subject) if is_id(subject) else None
            self._tenants[subject] = tz
        if tz is None:
            return None, tenant_not_found(subject) if len(subject) <= ID_MAX_LENGTH else "tenant not found"
        return subject, None

    # -------------------------------------------------------------- one request
    def validate(self, raw_events: list[Any]) -> Batch:
        out = Batch()
        seen: set[tuple[str, str]] = set()
        for index, raw in enumerate(raw_events):
            result = self.validate_one(index, raw)
            if isinstance(result, Rejected):
                out.rejected.append(result)
                continue
            key = (result.tenant, result.id)
            if key in seen:
                out.duplicates += 1
                continue
            seen.add(key)
            out.accepted.append(result)
            tz, spec = self._tenants[result.tenant], self._meters[result.meter]
            assert tz is not None and spec is not None  # an accepted event's tenant and meter were found
            out.timezones[result.tenant] = tz
            out.meters[result.meter] = spec
        return out

    def validate_one(self, index: int, raw: Any) -> Accepted | Rejected:  # noqa: C901 - hot path, measured by bench/ingest.py
        at = f"[{index}]"
        if type(raw) is not dict:
            return Rejected(index, None, [FieldError(at, "must be an event object")])
        errors: list[FieldError] | None = None

        event_id = raw.get("id")
        if type(event_id) is not str or not 0 < len(event_id) <= MAX_ID_LENGTH:
            errors = [FieldError(f"{at}.id", _id_problem(event_id))]
            event_id = None

        spec, problem = self._meter(raw.get("type"))
        if problem:
            errors = _add(errors, f"{at}.type", problem)

        tenant, problem = self._tenant(raw.get("subject"))
        if problem:
            errors = _add(errors, f"{at}.subject", problem)

        text = raw.get("time")
        time: str | None
        if text is None:
            time = self.default_time
        else:
            time, problem = event_time(text, self.lo, self.hi)
            if problem:
                errors = _add(errors, f"{at}.time", problem)

        data = raw.get("data")
        if data is None:
            data = {}
        elif type(data) is not dict:
            errors = _add(errors, f"{at}.data", "must be an object holding the value and the dimensions")
            data = None
        elif _too_deep(data, MAX_DATA_DEPTH):
            errors = _add(errors, f"{at}.data", f"is nested more than {MAX_DATA_DEPTH} levels deep")
            data = None

        source = raw.get("source")
        if source is not None and (type(source) is not str or not 0 < len(source) <= MAX_SOURCE_LENGTH):
            errors = _add(errors, f"{at}.source", f"must be a string of 1 to {MAX_SOURCE_LENGTH} characters")

        if "specversion" in raw and raw["specversion"] != "1.0":
            errors = _add(errors, f"{at}.specversion", 'must be "1.0" (CloudEvents 1.0)')

        if not _USED.issuperset(raw):
            for name in raw:
                problem = _attribute_problem(name, raw[name])
                if problem:
                    errors = _add(errors, f"{at}.{name}" if len(name) <= 64 else at, problem)

        if spec is not None and data is not None:
            try:
                value, dims = extract(spec, data)
            except InvalidValue as exc:
                errors = _add(errors, f"{at}.{exc.field}", exc.message)

        if errors is not None:
            return Rejected(index, event_id, errors)
        # No errors: each of these was found (the checks are for the type checker).
        assert (
            spec is not None and tenant is not None and event_id is not None and time is not None and data is not None
        )

        text_value = value if isinstance(value, str) else plain(value)
        try:
            encoded = event_json(event_fields(event_id, spec.key, time, text_value, dims, data, source))
        except ValueError:  # a non-finite float somewhere in data
            return Rejected(index, event_id, [FieldError(f"{at}.data", "numbers must be finite")])
        except RecursionError:
            return Rejected(index, event_id, [FieldError(f"{at}.data", "is nested too deeply")])
        except TypeError:  # cannot happen with json.loads output; kept for callers passing objects
            return Rejected(index, event_id, [FieldError(f"{at}.data", "must hold JSON values only")])
        if "\\ud" in encoded:  # non-BMP text is escaped as a surrogate pair; a lone half is an error
            where = _lone_surrogate(event_id, source, data)
            if where is not None:
                field_name = f"{at}.{where}"
                return Rejected(index, event_id if where != "id" else None, [FieldError(field_name, _SURROGATE)])
        if len(encoded) > MAX_EVENT_BYTES:
            return Rejected(
                index,
                event_id,
                [FieldError(f"{at}.data", f"the event is {len(encoded)} bytes; the limit is {MAX_EVENT_BYTES}")],
            )
        return Accepted(index, tenant, event_id, spec.key, encoded)


_SURROGATE = "holds a lone UTF-16 surrogate (\\ud800-\\udfff without its pair), which is not valid Unicode text"


def _too_deep(value: Any, depth: int) -> bool:
    """Whether objects and arrays nest more than ``depth`` levels (``value`` is level 1)."""
    if depth <= 0:
        return True
    children = value.values() if type(value) is dict else value
    return any(type(c) in (dict, list) and _too_deep(c, depth - 1) for c in children)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _lone_surrogate(event_id: str, source: str | None, data: dict[str, Any]) -> str | None:
    """Where the encoded event holds a lone surrogate (``id``, ``data.note``, ``data``), or None."""
    for name, value in (("id", event_id), ("source", source), ("data", data)):
        found = _surrogate_at(value, name)
        if found:
            return found
    return None


def _surrogate_at(value: Any, path: str) -> str | None:
    """The path of the first lone surrogate in ``value`` (a bad object key points at the
    object), or None."""
    if type(value) is str:
        return path if _has_lone_surrogate(value) else None
    if type(value) is dict:
        for k, v in value.items():
            if _has_lone_surrogate(k):
                return path
            found = _surrogate_at(v, f"{path}.{k}")
            if found:
                return found
    elif type(value) is list:
        for i, v in enumerate(value):
            found = _surrogate_at(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _add(errors: list[FieldError] | None, field_name: str, message: str) -> list[FieldError]:
    if errors is None:
        return [FieldError(field_name, message)]
    errors.append(FieldError(field_name, message))
    return errors


def _id_problem(event_id: Any) -> str:
    if event_id is None:
        return "is required (unique per tenant; retries reuse it)"
    if type(event_id) is not str:
        return "must be a string"
    return f"must be 1 to {MAX_ID_LENGTH} characters"


def _attribute_problem(name: str, value: Any) -> str | None:
    if name in _USED:
        return None
    if name == "datacontenttype":
        if not isinstance(value, str) or not _JSON_MEDIA.match(value):
            return "data must be JSON (application/json)"
        return None
    if name in _IGNORED:
        return None
    if name == "data_base64":
        return "binary data is not supported; send data as a JSON object"
    if _EXTENSION.match(name):
        return None  # a CloudEvents extension attribute: accepted, not stored
    return "unknown attribute (CloudEvents extension names are lowercase letters and digits)"
