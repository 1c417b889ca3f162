"""``POST /v1/consume``: may tenant T use ``amount`` of meter M now? If so, record it.

Protocol (docs/quotas.md has the argument). Configuration (tenant, meter, effective limits)
comes from per-instance caches. Then:

- **one request, when the instance knows the limited counters' values** (``KnownCounters``:
  it wrote them last, or a failed condition told it):
  - a hard limit too full for ``amount`` on the known values (lower bounds: counters only
    grow within a window): deny - one conditional PutItem records the denial on the id's
    dedupe marker (or finds the id's earlier decision, which stands);
  - otherwise one TransactWriteItems: the marker (``attribute_not_exists``) and an ``ADD`` on
    every counter window the consumer keeps (minute, hour, day, month, lifetime totals), each
    limited counter with ``v = :known`` - so the answer's ``used`` is exact. Cancelled on the
    marker: a duplicate (answer the stored decision); on a counter: the bet is lost (another
    instance wrote), the counter cools down, and the decision reads first:
- **read, then write**: one BatchGetItem (the id's marker and the limited counters). A
  marker: answer its decision again (an id that came through /v1/events was admitted there).
  ``amount == 0`` stops here (a check). An amount over the whole limit: 429, nothing written.
  Too full: deny as above. Otherwise the transaction as above with ``v <= limit - amount``
  on every hard limit (conditions cannot add); cancelled on a counter: over the limit, deny.

Group-by counters are not written: a consume carries no ``data``, so it has no dimensions.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tollgate.domain import periods
from tollgate.domain.counting import CounterKey, counter_targets
from tollgate.domain.decisions import DecisionDoc, decision_doc, limit_entry
from tollgate.domain.errors import FieldError, NotFound, TollgateError, ValidationFailed
from tollgate.domain.meters import Aggregation, InvalidValue, MeterSpec
from tollgate.domain.periods import Window
from tollgate.domain.plans import MAX_LIMIT_VALUE, Limit
from tollgate.domain.quota import LimitState, bounds, judge, too_big, write_ceiling
from tollgate.domain.records import Meter
from tollgate.domain.times import MAX_AHEAD, TOO_FAR_AHEAD, format_time
from tollgate.domain.usage import UsageEvent

from .catalog import Catalog
from .ports import (
    Clock,
    Committed,
    Contended,
    CounterConflict,
    CounterStore,
    CounterValue,
    CounterWrite,
    Duplicate,
    Marker,
)
from .quotas import counter_key, states_for, used_of

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


class Busy(TollgateError):
    status, slug, title = 503, "busy", "Too much contention; retry"


@dataclass(frozen=True)
class ConsumeResult:
    status: int  # 200 or 429
    doc: DecisionDoc
    replayed: bool
    answered_at: datetime  # the RateLimit headers count ``t`` from here

    @property
    def body(self) -> dict[str, Any]:
        return {
            "allowed": self.doc["allowed"],
            "reason": self.doc["reason"],
            "replayed": self.replayed,
            "limits": self.doc["limits"],
        }


def _result(doc: DecisionDoc, replayed: bool, now: datetime) -> ConsumeResult:
    return ConsumeResult(200 if doc["allowed"] else 429, doc, replayed, now)


def validate_amount(amount: Decimal, meter: MeterSpec) -> Decimal:
    """The amount as counted: the meter's scale and ceiling apply, as to its events."""
    aggregation = meter.aggregation
    problems = []
    if not amount.is_finite():
        problems.append("must be a finite number")
    elif amount < 0:
        problems.append("must not be negative")
    elif amount > MAX_LIMIT_VALUE:
        problems.append(f"must be at most {MAX_LIMIT_VALUE}")
    elif aggregation is Aggregation.COUNT and amount != amount.to_integral_value():
        problems.append("must be a whole number for a count meter")
    elif amount > 0 and not aggregation.additive:
        problems.append(
            f"consume counts sum and count meters; a {aggregation.value} meter takes readings through "
            "/v1/events (amount 0 checks its limits)"
        )
    elif aggregation is Aggregation.SUM:
        try:
            amount = meter.countable(amount, "amount")
        except InvalidValue as exc:
            problems.append(exc.message)
    if problems:
        raise ValidationFailed(f"amount: {problems[0]}", [FieldError("amount", problems[0])])
    return amount


TIME_TOLERANCE = MAX_AHEAD
"""How far ``time`` may be from now, either way: the clock skew ingest allows ahead."""


def _validate_time(at: datetime, now: datetime) -> None:
    """Consume is admission control - may the tenant use this now? - so it judges the current
    windows only. A time in the past would be judged against past windows: a back-dated
    consume on the last day of last month would pass a full monthly hard limit."""
    minutes = int(TIME_TOLERANCE.total_seconds() // 60)
    if at < now - TIME_TOLERANCE:
        message = (
            f"is more than {minutes} minutes in the past; consume decides usage happening now - "
            "record back-dated usage through POST /v1/events"
        )
    elif at > now + TIME_TOLERANCE:
        message = TOO_FAR_AHEAD
    else:
        return
    raise ValidationFailed(f"time: {message}", [FieldError("time", message)])


class KnownCounters:
    """Per instance: the last value seen of each limited counter (keys name the window, so a
    new window starts unknown). Counters of additive meters only grow within a window, so a
    value seen is a lower bound: enough to deny without asking DynamoDB. And a value this
    instance wrote or was told by a failed condition is exact until someone else writes:
    the optimistic path bets on it (``v = :expected``). A lost bet puts the counter on
    ``COOLDOWN_S``, during which decisions read first - the bet costs a failed transaction,
    a read costs half a read unit."""

    COOLDOWN_S = 5.0
    MAX_ENTRIES = 50_000

    def __init__(self, monotonic: Any = time.monotonic) -> None:
        self._values: dict[CounterKey, Decimal] = {}
        self._cool_until: dict[CounterKey, float] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def values(self, keys: list[CounterKey]) -> dict[CounterKey, Decimal] | None:
        with self._lock:
            if all(k in self._values for k in keys):
                return {k: self._values[k] for k in keys}
        return None

    def trusted(self, keys: list[CounterKey]) -> bool:
        now = self._monotonic()
        with self._lock:
            return all(self._cool_until.get(k, 0.0) <= now for k in keys)

    def learn(self, key: CounterKey, value: Decimal, lost_bet: bool = False) -> None:
        with self._lock:
            if len(self._values) >= self.MAX_ENTRIES:
                self._values.clear()
                self._cool_until.clear()
            if value >= self._values.get(key, value):
                self._values[key] = value
            if lost_bet:
                self._cool_until[key] = self._monotonic() + self.COOLDOWN_S

    def reset(self) -> None:
        with self._lock:
            self._values.clear()
            self._cool_until.clear()


class ConsumeService:
    """The consume decision. ``known`` is this environment's memory of counter values (see
    ``KnownCounters``); the composition root gives each environment one."""

    def __init__(
        self,
        catalog: Catalog,
        counters: CounterStore,
        clock: Clock,
        *,
        known: KnownCounters | None = None,
        retention_days: int = 400,
    ) -> None:
        self._catalog, self._store, self._clock = catalog, counters, clock
        self.known = known if known is not None else KnownCounters()
        self._retention = timedelta(days=retention_days)

    def consume(
        self, tenant_id: str, meter_key: str, amount: Decimal, event_id: str | None, at: datetime | None = None
    ) -> ConsumeResult:
        now = self._clock.now()
        at = now if at is None else at
        tenant = self._catalog.tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        meter = self._catalog.meter(meter_key)
        if meter is None:
            raise NotFound(f"meter {meter_key!r} not found")
        amount = validate_amount(amount, meter.spec())
        if amount > 0 and not event_id:
            raise ValidationFailed("id: is required when amount > 0", [FieldError("id", "is required when amount > 0")])
        _validate_time(at, now)
        tz = periods.zone(tenant.timezone)
        limits = [e.limit for e in self._catalog.effective_limits(tenant) if e.limit.meter == meter.key]
        keys = [counter_key(tenant.id, lim, bounds(at, lim.window, tz).start) for lim in limits]
        expires_at = int((now + self._retention).timestamp())
        d = _Decision(
            self._store, self.known, tenant.id, meter, amount, event_id, at, now, tz, limits, keys, expires_at
        )
        if amount > 0 and not too_big(amount, limits):
            fast = d.without_reading()
            if fast is not None:
                return fast
        return d.read_then_write()


class _Decision:
    def __init__(
        self,
        store: CounterStore,
        known: KnownCounters,
        tenant_id: str,
        meter: Meter,
        amount: Decimal,
        event_id: str | None,
        at: datetime,
        now: datetime,
        tz: ZoneInfo,
        limits: list[Limit],
        counter_keys: list[CounterKey],
        expires_at: int,
    ) -> None:
        self.store, self.known, self.expires_at = store, known, expires_at
        self.tenant_id, self.meter, self.amount, self.event_id = tenant_id, meter, amount, event_id
        self.at, self.now, self.tz, self.limits, self.keys = at, now, tz, limits, counter_keys

    def states(self, values: dict[CounterKey, CounterValue]) -> list[LimitState]:
        return states_for(self.tenant_id, self.limits, self.at, self.tz, values)

    def writes(self, states: list[LimitState], expected: dict[CounterKey, Decimal] | None) -> list[CounterWrite]:
        event = UsageEvent(
            id=self.event_id or "", meter=self.meter.key, time=format_time(self.at), value=str(self.amount)
        )
        ceilings = {
            k: write_ceiling(s.limit, self.amount) for k, s in zip(self.keys, states, strict=True) if s.limit.hard
        }
        out = [
            CounterWrite(
                t.key,
                self.amount,
                t.expires_at,
                ceilings.get(t.key),
                expected.get(t.key) if expected is not None else None,
            )
            for t in counter_targets(self.tenant_id, self.tz, self.meter.spec(), event)
        ]
        assert set(self.keys) <= {w.key for w in out}, "a limit's counter is not one the consumer keeps"
        return out

    def allowed_doc(self, states: list[LimitState]) -> DecisionDoc:
        after = [s.after(self.amount) for s in states]
        return decision_doc(True, after, {s.limit.key for s in after if s.exceeded}, self.tz)

    def seen(self, states: list[LimitState], values: dict[CounterKey, CounterValue]) -> list[LimitState]:
        return [
            LimitState(s.limit, used_of(values[k]), s.window) if k in values else s
            for k, s in zip(self.keys, states, strict=True)
        ]

    # -------------------------------------------------------------- one request, when it can
    def without_reading(self) -> ConsumeResult | None:
        """With every limited counter's value known: deny on it (one PutItem, the marker), or
        bet on it (one transaction that also proves the values). None: read first."""
        values = self.known.values(self.keys)
        if values is None:
            return None
        states = self.states({k: CounterValue(v) for k, v in values.items()})
        verdict = judge(self.amount, states)
        assert self.event_id is not None
        if not verdict.allowed:  # the known values are lower bounds: this denial is certain
            return self.deny(states, {s.limit.key for s in verdict.blocking})
        if not self.known.trusted(self.keys):
            return None
        doc = self.allowed_doc(states)
        result = self.store.commit(self.tenant_id, self.event_id, doc, self.expires_at, self.writes(states, values))
        if isinstance(result, Committed):
            for k in self.keys:
                self.known.learn(k, values[k] + self.amount)
            return _result(doc, False, self.now)
        if isinstance(result, Duplicate):
            return self._duplicate(result, states)
        if isinstance(result, CounterConflict):
            for k, v in result.values.items():
                self.known.learn(k, used_of(v), lost_bet=True)
            seen = self.seen(states, result.values)
            verdict = judge(self.amount, seen)
            if not verdict.allowed:
                return self.deny(seen, {s.limit.key for s in verdict.blocking})
        return None  # lost the bet (or contended): read, then write

    # -------------------------------------------------------------- read, then write
    def read_then_write(self) -> ConsumeResult:  # noqa: C901 - the consume hot path, measured by bench/consume.py
        amount, now, tz = self.amount, self.now, self.tz
        store = self.store
        marker, values = store.read((self.tenant_id, self.event_id) if amount > 0 else None, self.keys)
        states = self.states(values)
        if marker is not None:
            return _replay(marker, states, tz, now)
        if amount > 0 and (huge := too_big(amount, self.limits)):
            # More than the whole limit: no window will ever admit it. Denied, nothing written.
            return _result(decision_doc(False, states, {lim.key for lim in huge}, tz), False, now)
        verdict = judge(amount, states)
        if amount == 0:
            doc = decision_doc(verdict.allowed, states, {s.limit.key for s in verdict.blocking}, tz)
            return _result(doc, False, now)
        assert self.event_id is not None
        if not verdict.allowed:
            return self.deny(states, {s.limit.key for s in verdict.blocking})
        writes = self.writes(states, None)
        doc = self.allowed_doc(states)
        for attempt in range(MAX_ATTEMPTS):
            result = store.commit(self.tenant_id, self.event_id, doc, self.expires_at, writes)
            if isinstance(result, Committed):
                for k, s in zip(self.keys, states, strict=True):
                    self.known.learn(k, s.used + amount)
                return _result(doc, False, now)
            if isinstance(result, Duplicate):
                return self._duplicate(result, states)
            if isinstance(result, CounterConflict):
                for k, v in result.values.items():
                    self.known.learn(k, used_of(v))
                seen = self.seen(states, result.values)
                blocking = {s.limit.key for k, s in zip(self.keys, seen, strict=True) if k in result.values}
                return self.deny(seen, blocking)
            assert isinstance(result, Contended)
            log.info("consume transaction contended; retrying", extra={"codes": result.codes, "attempt": attempt})
            time.sleep(min(0.2, 0.01 * 2**attempt) * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
        raise Busy("the counters are too contended right now; retry in a moment")

    def deny(self, states: list[LimitState], blocking: set[tuple[str, Window]]) -> ConsumeResult:
        """Record the denial on the marker, so a retry of the id is denied too - unless another
        request recorded a decision for the id first, which then stands."""
        assert self.event_id is not None
        doc = decision_doc(False, states, blocking, self.tz)
        first = self.store.put_marker(self.tenant_id, self.event_id, doc, self.expires_at)
        if first is not None:
            return _replay(first, states, self.tz, self.now)
        return _result(doc, False, self.now)

    def _duplicate(self, result: Duplicate, states: list[LimitState]) -> ConsumeResult:
        assert self.event_id is not None
        found = result.marker or self.store.get_marker(self.tenant_id, self.event_id) or Marker(None, None)
        return _replay(found, states, self.tz, self.now)


def _replay(marker: Marker, states: list[LimitState], tz: Any, now: datetime) -> ConsumeResult:
    """The id was seen before: its decision again. An id counted through /v1/events was
    admitted there; the answer is "allowed" with the limits as they are now."""
    if marker.by_consume and marker.decision is not None:
        return _result(marker.decision, True, now)
    doc: DecisionDoc = {
        "allowed": True,
        "reason": None,
        "limits": [limit_entry(s, tz, s.exceeded) for s in states],
        "w": [s.window.seconds() for s in states],
    }
    return _result(doc, True, now)
