"""Exactly-once counting: the pure rules of the consumer (see docs/storage.md). No AWS.

What lives here:
- which counter items one event touches (windows in the tenant's zone, group-by values);
- coalescing: many events -> one update per counter item (ADD for sum/count, greatest for
  max, newest event time for latest); unique_count deltas come from value claims
  (``tollgate.domain.unique_values``);
- in-batch dedupe: which messages of a batch hold each event, and which events a message
  owns once the claims are known;
- screening: which events of a message no write could store (ingest rejects them; this is
  the safety net that quarantines one event instead of failing a batch).

How the writes are packed for DynamoDB is the adapters': ``tollgate.adapters.commit_plan``
(transactions of at most 100 items) and ``tollgate.adapters.event_log`` (the raw-event log).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Context, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tollgate.wire.usage_message import decode, event_dict

from . import storage_keys as keys
from . import unique_values
from .ids import is_id
from .meters import Aggregation, MeterSpec
from .periods import COUNTED_WINDOWS, UNIQUE_WINDOWS, Window, utc_key, window_start, zone
from .storage_keys import CounterKey as CounterKey  # re-exported: the counters' key type
from .times import parse_time
from .usage import UsageEvent, UsageMessage

# DynamoDB numbers hold 38 significant digits; Python's default context rounds at 28.
DECIMAL = Context(prec=38)

MINUTE_COUNTER_TTL = timedelta(days=3)
"""Minute counters expire 3 days after their window starts (deterministic per item)."""

# DynamoDB's number range: 38 significant digits, magnitude from 1e-130 to under 1e126.
_DYNAMO_MAX_DIGITS = 38
_DYNAMO_MIN_EXP = -130
_DYNAMO_MAX_ADJUSTED = 125


class EventRef(NamedTuple):
    tenant: str
    event_id: str


# ------------------------------------------------------------------ counter items of an event
@dataclass(frozen=True)
class CounterTarget:
    key: CounterKey
    expires_at: int | None  # epoch seconds, minute windows only


def _expiry(start: datetime | None, window: Window) -> int | None:
    if window is not Window.MINUTE or start is None:
        return None
    return int((start + MINUTE_COUNTER_TTL).timestamp())


def counter_targets(tenant: str, tz: ZoneInfo, meter: MeterSpec, event: UsageEvent) -> list[CounterTarget]:
    """Every counter item one event updates: per counted window, the total and, except for
    minutes, one item per group-by dimension the event carries. Minutes serve rate windows and
    quotas, which read totals only; a group item per minute would cost 2 write units per
    transaction for nothing (docs/storage.md, "Cost"). unique_count meters are counted in
    ``UNIQUE_WINDOWS`` only (day, month, lifetime)."""
    at = parse_time(event.time)
    dims = [(d, event.dims[d]) for d in meter.group_by if d in event.dims]
    out: list[CounterTarget] = []
    windows = UNIQUE_WINDOWS if meter.aggregation is Aggregation.UNIQUE_COUNT else COUNTED_WINDOWS
    for window in windows:
        start = window_start(at, window, tz)
        window_key = utc_key(start)
        expires = _expiry(start, window)
        out.append(
            CounterTarget(CounterKey(keys.total_pk(tenant, event.meter, window), keys.total_sk(window_key)), expires)
        )
        for dim, value in dims if window is not Window.MINUTE else ():
            out.append(
                CounterTarget(
                    CounterKey(keys.group_pk(tenant, event.meter, window, dim), keys.group_sk(window_key, value)),
                    expires,
                )
            )
    return out


def latest_tag(event: UsageEvent) -> str:
    """Orders latest values by event time, then event id (times are fixed-width text)."""
    return f"{event.time}#{event.id}"


# ------------------------------------------------------------------ coalescing
@dataclass
class CounterUpdates:
    """Coalesced updates: one entry per counter item, whatever the number of events."""

    add: dict[CounterKey, Decimal] = field(default_factory=dict)
    max: dict[CounterKey, Decimal] = field(default_factory=dict)
    latest: dict[CounterKey, tuple[str, Decimal]] = field(default_factory=dict)
    expires: dict[CounterKey, int] = field(default_factory=dict)

    def add_event(self, tenant: str, tz: ZoneInfo, meter: MeterSpec, event: UsageEvent) -> None:
        """One event's updates. A unique_count event adds nothing here: its deltas depend on
        its value claims (``unique_values``) and join ``add`` once they are settled."""
        agg = meter.aggregation
        if agg is Aggregation.UNIQUE_COUNT:
            return
        targets = counter_targets(tenant, tz, meter, event)
        if agg is Aggregation.COUNT:
            self._add(targets, Decimal(1))
        elif agg is Aggregation.SUM:
            self._add(targets, event.decimal_value())
        elif agg is Aggregation.MAX:
            value = event.decimal_value()
            for t in targets:
                self._expire(t)
                old = self.max.get(t.key)
                if old is None or value > old:
                    self.max[t.key] = value
        else:
            tag, value = latest_tag(event), event.decimal_value()
            for t in targets:
                self._expire(t)
                seen = self.latest.get(t.key)
                if seen is None or tag > seen[0]:
                    self.latest[t.key] = (tag, value)

    def _expire(self, target: CounterTarget) -> None:
        if target.expires_at is not None:
            self.expires[target.key] = target.expires_at

    def _add(self, targets: list[CounterTarget], delta: Decimal) -> None:
        for t in targets:
            self._expire(t)
            self.add[t.key] = DECIMAL.add(self.add.get(t.key, Decimal(0)), delta)

    def merge(self, other: CounterUpdates) -> CounterUpdates:
        for k, v in other.add.items():
            self.add[k] = DECIMAL.add(self.add.get(k, Decimal(0)), v)
        for k, v in other.max.items():
            if k not in self.max or v > self.max[k]:
                self.max[k] = v
        for k, lv in other.latest.items():
            if k not in self.latest or lv[0] > self.latest[k][0]:
                self.latest[k] = lv
        self.expires.update(other.expires)
        return self

    def idempotent(self) -> bool:
        return bool(self.max or self.latest)


def updates_for(message: UsageMessage, events: Iterable[UsageEvent], tz: ZoneInfo | None = None) -> CounterUpdates:
    tz = tz or zone(message.timezone)
    out = CounterUpdates()
    for e in events:
        out.add_event(message.tenant, tz, message.meters[e.meter], e)
    return out


def value_scopes_for(
    message: UsageMessage, events: Iterable[UsageEvent], tz: ZoneInfo | None = None
) -> list[unique_values.ValueScope]:
    """The value claim scopes of a message's unique_count events (see ``unique_values``)."""
    tz = tz or zone(message.timezone)
    out: list[unique_values.ValueScope] = []
    for e in events:
        meter = message.meters[e.meter]
        if meter.aggregation is Aggregation.UNIQUE_COUNT:
            out += unique_values.value_scopes(message.tenant, tz, meter, e)
    return out


# ------------------------------------------------------------------ in-batch dedupe
@dataclass(frozen=True)
class Delivery:
    """One SQS message of the batch (records repeating a message id are folded into it)."""

    message_id: str
    message: UsageMessage
    attempt: int = 1  # SQS's ApproximateReceiveCount: above 1, an earlier delivery may have claimed

    def refs(self) -> Iterator[tuple[EventRef, UsageEvent]]:
        """Each event of the message once (first occurrence), in message order."""
        seen: set[str] = set()
        for e in self.message.events:
            if e.id not in seen:
                seen.add(e.id)
                yield EventRef(self.message.tenant, e.id), e


def batch_candidates(deliveries: Sequence[Delivery]) -> dict[EventRef, list[str]]:
    """For each (tenant, event id) of the batch, the messages holding it, in batch order.

    The first one claims it; whichever message turns out to own it (the claim says who)
    counts it. Dropping the later copies without asking the ledger would lose an event whose
    owner, from an earlier attempt, is a later message of this batch."""
    out: dict[EventRef, list[str]] = {}
    for d in deliveries:
        for ref, _ in d.refs():
            holders = out.setdefault(ref, [])
            if d.message_id not in holders:
                holders.append(d.message_id)
    return out


def claimed_events(delivery: Delivery, owners: Mapping[EventRef, str | None]) -> list[UsageEvent]:
    """The events this message owns (first occurrence of each id), in message order."""
    return [e for ref, e in delivery.refs() if owners.get(ref) == delivery.message_id]


# ------------------------------------------------------------------ decoding
def decode_message(body: str) -> UsageMessage:
    """``usage_message.decode`` plus what counting needs: a valid tenant id, a known zone and
    finite numbers. Anything wrong here concerns the whole message: it is poison (the consumer
    and the repack stage fail its record alone)."""
    message = decode(body)
    if not isinstance(message.tenant, str) or not is_id(message.tenant):
        raise ValueError("the message's tenant is not a valid tenant id")
    zone(message.timezone)
    for e in message.events:
        if message.meters[e.meter].aggregation is not Aggregation.UNIQUE_COUNT and not Decimal(e.value).is_finite():
            raise ValueError(f"event {e.id!r} has a value that is not a finite number")
    return message


# ------------------------------------------------------------------ screening
def storable_number(text: str) -> str | None:
    """Why a value text is not a number DynamoDB stores, or None."""
    value = Decimal(text)
    if not value.is_finite():
        return f"the value {text!r} is not a finite number"
    if not value:
        return None
    digits = len("".join(map(str, value.as_tuple().digits)).rstrip("0"))  # normalize() would round
    if digits > _DYNAMO_MAX_DIGITS:
        return f"the value has {digits} significant digits; DynamoDB keeps {_DYNAMO_MAX_DIGITS}"
    if value.adjusted() > _DYNAMO_MAX_ADJUSTED or value.adjusted() < _DYNAMO_MIN_EXP:
        return "the value is outside DynamoDB's number range (1e-130 to under 1e126)"
    return None


def uncountable(tenant: str, tz: ZoneInfo, meter: MeterSpec, event: UsageEvent) -> str | None:
    """Why no write could count or log ``event``, or None: every per-event step of the
    consumer, tried on its own (log encoding, value, counter items, value claim keys)."""
    try:
        json.dumps(event_dict(event), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "the event holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode text"
    if meter.aggregation is Aggregation.UNIQUE_COUNT:
        parse_time(event.time)
        unique_values.value_scopes(tenant, tz, meter, event)  # its counter keys too
        return None
    if meter.aggregation is not Aggregation.COUNT:
        problem = storable_number(event.value)
        if problem:
            return problem
    counter_targets(tenant, tz, meter, event)
    return None


def screen(message: UsageMessage, tz: ZoneInfo | None = None) -> tuple[list[UsageEvent], list[tuple[UsageEvent, str]]]:
    """A message's events split into the countable ones and ``(event, reason)`` for the rest.

    Any exception while checking one event (a bug, a limit we missed) quarantines that event
    only, so the rest of its message, and every other message, are still counted."""
    tz = tz or zone(message.timezone)
    kept: list[UsageEvent] = []
    bad: list[tuple[UsageEvent, str]] = []
    for e in message.events:
        try:
            problem = uncountable(message.tenant, tz, message.meters[e.meter], e)
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is this event's
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            kept.append(e)
        else:
            bad.append((e, problem.encode("ascii", "backslashreplace").decode("ascii")))
    return kept, bad
