"""Cross-tenant usage analytics from the roll-ups (docs/analytics.md): ``GET /v1/analytics/usage``
and the ranking behind ``GET /v1/tenants?sort=usage:<meter>``.

Across tenants, days, ISO weeks (Monday) and months are the operator's (``OPERATOR_TIMEZONE``)
and every figure is read from the roll-ups, never from tenants' counters:

- the series (and ``plan=``, and ``group_by=plan``): one Query of the day totals over the range;
- ``group_by=tenant``: exactly one operator month is one Query of the month's ranking index
  (``limit`` items); any other range reads the whole months it covers and its edge days, a
  partition each, then one Query per ranked tenant for its series.

With ``tenant=``, the windows are that tenant's zone and the figures its own day counters
(``UsageService``, as ``GET /v1/usage``): exact up to the last event counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tollgate.domain import periods
from tollgate.domain import rollups as r
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.records import Meter
from tollgate.domain.rollups import Bounds, Interval, Point

from .meters import MeterService
from .ports import Clock, RollupStore
from .tenants import TenantService
from .usage import UsageService

MAX_SPAN = timedelta(days=400)
DEFAULT_SPAN_DAYS = 30
DEFAULT_LIMIT = 10
ROLLED_UP = (Aggregation.SUM, Aggregation.COUNT)


@dataclass(frozen=True)
class Group:
    key: str
    total: Decimal
    series: list[Point]


@dataclass(frozen=True)
class Analytics:
    meter: str
    interval: Interval
    timezone: str
    start: datetime
    end: datetime
    total: Decimal
    series: list[Point]
    groups: list[Group] | None


@dataclass(frozen=True)
class Query:
    meter: str
    start: datetime | None = None
    end: datetime | None = None
    interval: Interval = Interval.DAY
    tenant: str | None = None
    plan: str | None = None
    group_by: str = "none"
    limit: int = DEFAULT_LIMIT


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [FieldError(field, message)])


class AnalyticsService:
    def __init__(
        self,
        store: RollupStore,
        usage: UsageService,
        tenants: TenantService,
        meters: MeterService,
        clock: Clock,
        operator_tz: ZoneInfo,
    ) -> None:
        self._store, self._usage, self._tenants, self._meters = store, usage, tenants, meters
        self._clock, self._tz = clock, operator_tz

    # ---------------------------------------------------------------- GET /v1/analytics/usage
    def usage(self, q: Query) -> Analytics:
        meter = self._meters.get_meter(q.meter)  # 404 for an unknown meter
        if meter.aggregation not in ROLLED_UP:
            raise _fail("meter", f"analytics covers sum and count meters; {meter.key!r} is {meter.aggregation.value}")
        if q.tenant is not None and q.plan is not None:
            raise _fail("plan", "plan filters tenants: leave it out with tenant")
        if q.tenant is not None and q.group_by != "none":
            raise _fail("group_by", "one tenant has no groups: use group_by=none with tenant")
        tz = periods.zone(self._tenants.get_tenant(q.tenant).timezone) if q.tenant else self._tz
        bounds = self._bounds(q, tz)
        if q.tenant is not None:
            return self._one_tenant(q, q.tenant, bounds, tz)
        days = self._days(q.meter, bounds, q.plan)
        series = r.fold(days, bounds, q.interval, tz)
        groups = None
        if q.group_by == "plan":
            groups = self._by_plan(q, bounds)
        elif q.group_by == "tenant":
            groups = self._by_tenant(q, bounds)
        total = sum((p.value for p in series), Decimal(0))
        return Analytics(q.meter, q.interval, tz.key, bounds.start, bounds.end, total, series, groups)

    def _bounds(self, q: Query, tz: ZoneInfo) -> Bounds:
        end = q.end or r.midnight(r.local_date(self._clock.now(), tz) + timedelta(days=1), tz)
        start = q.start or r.midnight(r.local_date(end - timedelta(microseconds=1), tz) - timedelta(days=29), tz)
        if end <= start:
            raise _fail("to", "must be after from")
        if end - start > MAX_SPAN:
            raise _fail("from", f"a range spans at most {MAX_SPAN.days} days")
        return r.snap(start, end, q.interval, tz)

    def _days(self, meter: str, bounds: Bounds, plan: str | None) -> dict[date, Decimal]:
        if plan is None:
            return self._store.day_series(meter, bounds.first, bounds.last)
        rows = self._store.plan_series(meter, bounds.first, bounds.last)
        return {d: v for (d, p), v in rows.items() if p == plan}

    def _one_tenant(self, q: Query, tenant: str, bounds: Bounds, tz: ZoneInfo) -> Analytics:
        u = self._usage.query_usage(tenant, q.meter, bounds.start, bounds.end, Window.DAY, None)
        days = {p.start.astimezone(tz).date(): p.value for p in u.series}
        series = r.fold(days, bounds, q.interval, tz)
        total = sum((p.value for p in series), Decimal(0))
        return Analytics(q.meter, q.interval, tz.key, bounds.start, bounds.end, total, series, None)

    def _by_plan(self, q: Query, bounds: Bounds) -> list[Group]:
        per_plan: dict[str, dict[date, Decimal]] = {}
        for (d, plan), v in self._store.plan_series(q.meter, bounds.first, bounds.last).items():
            if q.plan is None or plan == q.plan:
                per_plan.setdefault(plan, {})[d] = v
        groups = [self._group(key, days, bounds, q.interval) for key, days in per_plan.items()]
        return _ranked(groups, q.limit)

    def _by_tenant(self, q: Query, bounds: Bounds) -> list[Group]:
        ranked = self._rank(q.meter, bounds.first, bounds.last, q.plan, q.limit)
        return [
            self._group(t, self._store.tenant_days(q.meter, t, bounds.first, bounds.last), bounds, q.interval)
            for t, _ in ranked
        ]

    def _group(self, key: str, days: dict[date, Decimal], bounds: Bounds, interval: Interval) -> Group:
        series = r.fold(days, bounds, interval, self._tz)
        return Group(key, sum((p.value for p in series), Decimal(0)), series)

    def _rank(self, meter: str, first: date, last: date, plan: str | None, limit: int) -> list[tuple[str, Decimal]]:
        """The top ``limit`` tenants over ``first..last`` by total, largest first (ties by id)."""
        months, edges = r.whole_months(first, last)
        if plan is None and not edges and len(months) == 1:
            rows, _ = self._store.top_month(meter, months[0], limit, None)
            return sorted(rows, key=_order)
        totals: dict[str, Decimal] = {}
        plans: dict[str, str | None] = {}
        reads = sorted([(m, True) for m in months] + [(d, False) for d in edges])
        for d, whole_month in reads:  # in time order: a tenant's plan is the one its latest item recorded
            part = self._store.month_tenants(meter, d) if whole_month else self._store.day_tenants(meter, d)
            for tenant, (value, tenant_plan) in part.items():
                totals[tenant] = totals.get(tenant, Decimal(0)) + value
                plans[tenant] = tenant_plan
        rows = [(t, v) for t, v in totals.items() if plan is None or plans[t] == plan]
        return sorted(rows, key=_order)[:limit]

    # ---------------------------------------------------------------- GET /v1/tenants?sort=usage:<meter>
    def current_month(self) -> date:
        """The operator month the tenant list ranks by."""
        return r.local_date(self._clock.now(), self._tz).replace(day=1)

    def check_sortable(self, meter_key: str) -> None:
        try:
            meter: Meter | None = self._meters.get_meter(meter_key)
        except NotFound:
            meter = None
        if meter is None or meter.aggregation not in ROLLED_UP:
            raise _fail("sort", f"usage:<meter> needs a sum or count meter; {meter_key!r} is not one")

    def ranked_tenants(
        self, meter: str, limit: int, cursor: str | None
    ) -> tuple[list[tuple[str, Decimal]], str | None]:
        """Tenants with usage of ``meter`` in the current operator month, most first (ValueError
        for a cursor of another list)."""
        return self._store.top_month(meter, self.current_month(), limit, cursor)


def _order(row: tuple[str, Decimal]) -> tuple[Decimal, str]:
    return (-row[1], row[0])


def _ranked(groups: list[Group], limit: int) -> list[Group]:
    return sorted(groups, key=lambda g: (-g.total, g.key))[:limit]
