"""The analytics roll-up job (docs/analytics.md): every 10 minutes, the (tenant, meter) pairs
the activity index marked in the last ``LOOKBACK_HOURS`` UTC hours are rolled up again.

For each pair of a sum or count meter:

1. read the tenant's day counters of the last ``LATE_DAYS`` local days (one Query) and what the
   job saw of them last time (one GetItem): the local days whose value moved are the days to redo,
   so usage that arrives late for an earlier day (up to the consumer's 35 days) is picked up;
2. read the hour counters spanning the operator days those local days overlap (one Query),
   and put the tenant's absolute value of each of those operator days, then of each month
   holding one (the month summed from the tenant's day items);

then, for every (meter, operator day) redone, the day's total over all tenants and per plan
(from the day's partition); and last, what was seen of each pair. Every write is an absolute
put recomputed from counters, and what was seen is written only after everything it covers:
a run that crashes anywhere, or runs twice, leaves values a rerun makes exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tollgate.domain import periods
from tollgate.domain import rollups as r
from tollgate.domain import storage_keys as keys
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.reconcile import hour_floor
from tollgate.domain.records import Tenant

from .catalog import Catalog
from .ports import ActivityIndex, Clock, CounterReader, RollupStore

log = logging.getLogger(__name__)

LOOKBACK_HOURS = 3
"""Activity hours read per run: the current UTC hour and the two before. A pair marked late in
an hour is still read by the first run of the next hour, and two hours of failed runs lose
nothing (the activity index keeps marks for 3 days)."""
ROLLED_UP = (Aggregation.SUM, Aggregation.COUNT)
WORKERS = 8
"""Pairs rolled up at once, each a few sequential DynamoDB calls (2 when unchanged, about 7 when
a day changed). At 5 to 10 ms a call (an estimate, not measured here) that is some 100 changed
pairs a second, so a 5-minute invocation covers about 25,000; what is left is skipped and
redone by the next run (its marks stay in the 3-hour lookback)."""
RESERVE_MS = 30_000
"""No pair is started with less than this left of the invocation (the days' series and the
seen marks still have to be written); the pairs left are redone by the next run."""


@dataclass
class RollupReport:
    as_of: datetime
    active_pairs: int = 0
    rolled: int = 0  # pairs whose changed days were rolled up
    unchanged: int = 0
    ignored: int = 0  # unknown tenant or meter, or not a sum or count meter
    skipped: int = 0  # out of time: redone by the next run
    errors: int = 0
    days: int = 0  # (meter, operator day) series recomputed

    def summary(self) -> dict[str, object]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class _Outcome:
    kind: str  # a RollupReport counter: rolled, unchanged, ignored, skipped or errors
    seen: dict[str, Decimal] = field(default_factory=dict)
    days: set[date] = field(default_factory=set)


@dataclass
class _Run:
    report: RollupReport
    touched: dict[str, set[date]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, Decimal]]] = field(default_factory=list)

    def fold(self, tenant: str, meter: str, outcome: _Outcome) -> None:
        setattr(self.report, outcome.kind, getattr(self.report, outcome.kind) + 1)
        if outcome.days:
            self.touched.setdefault(meter, set()).update(outcome.days)
            self.seen.append((meter, tenant, outcome.seen))


class RollupJob:
    def __init__(
        self,
        activity: ActivityIndex,
        catalog: Catalog,
        reader: CounterReader,
        store: RollupStore,
        clock: Clock,
        operator_tz: ZoneInfo,
        *,
        workers: int = WORKERS,
    ) -> None:
        self._activity, self._catalog, self._reader = activity, catalog, reader
        self._store, self._clock, self._tz, self._workers = store, clock, operator_tz, workers

    def run(self, remaining_ms: Callable[[], int] | None = None) -> RollupReport:
        now = self._clock.now()
        run = _Run(RollupReport(as_of=now))
        start = hour_floor(now) - timedelta(hours=LOOKBACK_HOURS - 1)
        pairs = sorted(self._activity.active(start, now + timedelta(seconds=1)))
        run.report.active_pairs = len(pairs)

        def one(pair: tuple[str, str]) -> _Outcome:
            if remaining_ms is not None and remaining_ms() < RESERVE_MS:
                return _Outcome("skipped")
            return self._pair(*pair, now)

        with ThreadPoolExecutor(self._workers) as pool:
            outcomes = list(pool.map(one, pairs))
        for (tenant, meter), outcome in zip(pairs, outcomes, strict=True):
            run.fold(tenant, meter, outcome)
        for meter, days in sorted(run.touched.items()):
            for day in sorted(days):
                self._day_series(meter, day)
                run.report.days += 1
        for meter, tenant, values in run.seen:
            self._store.put_seen(meter, tenant, values)
        return run.report

    def _pair(self, tenant_id: str, meter_key: str, now: datetime) -> _Outcome:
        try:
            meter = self._catalog.meter(meter_key)
            tenant = self._catalog.tenant(tenant_id)
            if meter is None or tenant is None or meter.aggregation not in ROLLED_UP:
                return _Outcome("ignored")
            current, days = self._roll(tenant, meter_key, now)
        except Exception:  # one pair's failure must not stop the others; it is redone next run
            log.exception("rolling up a pair failed", extra={"tenant": tenant_id, "meter": meter_key})
            return _Outcome("errors")
        return _Outcome("rolled", current, days) if days else _Outcome("unchanged")

    def _roll(self, tenant: Tenant, meter: str, now: datetime) -> tuple[dict[str, Decimal], set[date]]:
        """Redo the tenant's operator days its changed local days overlap; returns its day
        counters as read and the operator days redone."""
        ttz = periods.zone(tenant.timezone)
        oldest = r.midnight(r.local_date(now, ttz) - timedelta(days=r.LATE_DAYS - 1), ttz)
        cells = self._reader.totals(keys.total_pk(tenant.id, meter, Window.DAY), periods.utc_key(oldest), "~")
        current = {periods.utc_key(c.window_start): c.value for c in cells if c.value is not None}
        changed = r.changed_days(current, self._store.seen(meter, tenant.id))
        days: set[date] = set()
        for k in changed:
            days |= r.operator_days_of(periods.parse_utc_key(k).astimezone(ttz), ttz, self._tz)
        if not days:
            return current, days
        low = r.midnight(min(days), self._tz)
        high = r.midnight(max(days) + timedelta(days=1), self._tz) - timedelta(seconds=1)
        hours = self._reader.totals(
            keys.total_pk(tenant.id, meter, Window.HOUR), periods.utc_key(low), periods.utc_key(high)
        )
        self._store.put_tenant_days(meter, tenant.id, tenant.plan, r.day_values(hours, days, self._tz))
        for month in sorted({d.replace(day=1) for d in days}):
            last = r.next_bucket(month, r.Interval.MONTH) - timedelta(days=1)
            value = sum(self._store.tenant_days(meter, tenant.id, month, last).values(), Decimal(0))
            self._store.put_month(meter, month, tenant.id, tenant.plan, value)
        return current, days

    def _day_series(self, meter: str, day: date) -> None:
        total, plans = Decimal(0), dict[str, Decimal]()
        for value, plan in self._store.day_tenants(meter, day).values():
            total += value
            if plan is not None:
                plans[plan] = plans.get(plan, Decimal(0)) + value
        for _, plan in self._store.plan_series(meter, day, day):
            plans.setdefault(plan, Decimal(0))  # a plan no tenant of the day is on any more
        self._store.put_day_series(meter, day, total, plans)
