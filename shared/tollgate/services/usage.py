"""Usage queries: a meter's series and total for one tenant over a range of windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.errors import FieldError, ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.records import Meter, Tenant
from tollgate.domain.usage_query import CounterCell, cell_value, is_empty, total

from .meters import MeterService
from .ports import Clock, CounterReader
from .tenants import TenantService

# The longest range each window may span, to bound a query's cost (items read). An hour series
# covers any month, the default range: 31 days and the hour a DST change adds.
MAX_SPAN = {Window.HOUR: timedelta(days=32), Window.DAY: timedelta(days=400), Window.MONTH: timedelta(days=3700)}


@dataclass(frozen=True)
class SeriesPoint:
    start: datetime
    end: datetime
    value: Decimal
    group: dict[str, str] | None = None


@dataclass(frozen=True)
class Usage:
    tenant: str
    meter: str
    aggregation: Aggregation
    window: Window
    timezone: str
    start: datetime
    end: datetime
    total: Decimal | None
    series: list[SeriesPoint]


def _range_keys(start: datetime, end: datetime, window: Window, tz: ZoneInfo) -> tuple[str, str]:
    first = periods.window_start(start, window, tz)
    # Windows that start before ``end``: every key up to the last whole second before it.
    last = end.replace(microsecond=0) - timedelta(seconds=0 if end.microsecond else 1)
    return periods.utc_key(first), periods.utc_key(last)


def _end_of(start: datetime, window: Window, tz: ZoneInfo) -> datetime:
    end = periods.window_end(start, window, tz)
    assert end is not None, "series windows (hour, day, month) have an end"
    return end


def current_month(tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The start of the month holding ``now`` in ``tz``, and the start of the next."""
    start = periods.window_start(now, Window.MONTH, tz)
    assert start is not None  # a month has bounds
    end = periods.window_end(start, Window.MONTH, tz)
    assert end is not None
    return start, end


class UsageService:
    def __init__(self, tenants: TenantService, meters: MeterService, reader: CounterReader, clock: Clock) -> None:
        self._tenants, self._meters, self._reader, self._clock = tenants, meters, reader, clock

    def query_usage(
        self,
        tenant_id: str,
        meter_key: str,
        start: datetime | None,
        end: datetime | None,
        window: Window,
        group_by: str | None,
    ) -> Usage:
        """``start`` and ``end`` default to the current month in the tenant's zone (``clock.now``)."""
        tenant = None
        if start is None or end is None:
            tenant = self._tenants.get_tenant(tenant_id)  # 404 first: the defaults need its zone
            month_start, month_end = current_month(periods.zone(tenant.timezone), self._clock.now())
            start = month_start if start is None else start
            end = month_end if end is None else end
        errors = []
        if end <= start:
            errors.append(FieldError("to", "must be after from"))
        elif end - start > MAX_SPAN[window]:
            errors.append(FieldError("from", f"a {window.value} series spans at most {MAX_SPAN[window].days} days"))
        if errors:
            raise ValidationFailed("the range is not valid", errors)
        tenant = tenant or self._tenants.get_tenant(tenant_id)
        meter = self._meters.get_meter(meter_key)
        if meter.aggregation is Aggregation.UNIQUE_COUNT and window not in periods.UNIQUE_WINDOWS:
            raise ValidationFailed(
                f"meter {meter.key!r} counts unique values by day and month only",
                [FieldError("window", "must be day or month for a unique_count meter")],
            )
        if group_by is not None and group_by not in meter.group_by:
            raise ValidationFailed(
                f"meter {meter.key!r} does not group by {group_by!r}",
                [FieldError("group_by", f"must be one of the meter's group_by: {meter.group_by}")],
            )
        tz = periods.zone(tenant.timezone)
        low, high = _range_keys(start, end, window, tz)
        agg = meter.aggregation
        totals = self._reader.totals(keys.total_pk(tenant.id, meter.key, window), low, high)
        if group_by is None:
            cells = totals
        else:
            cells = self._reader.groups(keys.group_pk(tenant.id, meter.key, window, group_by), low, high)
        series = []
        for c in (c for c in cells if not is_empty(c, agg)):
            s = c.window_start.astimezone(tz)
            series.append(
                SeriesPoint(
                    start=s,
                    end=_end_of(s, window, tz),
                    value=cell_value(c, agg),
                    group=None if c.group is None or group_by is None else {group_by: c.group},
                )
            )
        if agg is Aggregation.UNIQUE_COUNT:
            range_total = self._unique_total(tenant.id, meter.key, start, end, tz)
        else:
            range_total = total(totals, agg)
        return Usage(
            tenant=tenant.id,
            meter=meter.key,
            aggregation=agg,
            window=window,
            timezone=tenant.timezone,
            start=start,
            end=end,
            total=range_total,
            series=series,
        )

    def _unique_total(self, tenant: str, meter: str, start: datetime, end: datetime, tz: ZoneInfo) -> Decimal | None:
        """Distinct values over ``[start, end)``: exact when the range is one day or one month
        in the tenant's zone (that window's count), else None. Distinct counts of several
        windows do not add up, and only days, months and lifetime are counted."""
        for window in (Window.DAY, Window.MONTH):
            if _one_window(start, end, window, tz):
                low, high = _range_keys(start, end, window, tz)
                return total(
                    self._reader.totals(keys.total_pk(tenant, meter, window), low, high), Aggregation.UNIQUE_COUNT
                )
        return None

    def period_totals(
        self, tenant: Tenant, meters: Sequence[Meter], start: datetime, end: datetime
    ) -> dict[str, Decimal | None]:
        """Each meter's total for ``[start, end)``, both window boundaries in the tenant's zone:
        one query of the month windows when the period is whole months, else of the days, else
        of the hours (an invoice's period or a plan's part of it, an analytics row). Nothing
        is validated here: callers pass whole windows they computed. A unique_count meter's total is exact for one month or one day,
        and None for a longer period (``usage_query.total``)."""
        tz = periods.zone(tenant.timezone)
        window = _coarsest(start, end, tz)
        low, high = _range_keys(start, end, window, tz)
        return {
            m.key: total(self._reader.totals(keys.total_pk(tenant.id, m.key, window), low, high), m.aggregation)
            for m in meters
        }

    def period_groups(
        self, tenant: Tenant, meter: Meter, dimension: str, start: datetime, end: datetime
    ) -> dict[str, Decimal]:
        """Each value of ``dimension`` and its total for ``[start, end)`` (whole months or days
        in the tenant's zone, as ``period_totals``): an invoice's filtered charges."""
        tz = periods.zone(tenant.timezone)
        window = _coarsest(start, end, tz)
        low, high = _range_keys(start, end, window, tz)
        cells: dict[str, list[CounterCell]] = {}
        for c in self._reader.groups(keys.group_pk(tenant.id, meter.key, window, dimension), low, high):
            if c.group is not None:
                cells.setdefault(c.group, []).append(c)
        found = {value: total(cs, meter.aggregation) for value, cs in cells.items()}
        return {value: amount for value, amount in found.items() if amount is not None}


def _coarsest(start: datetime, end: datetime, tz: ZoneInfo) -> Window:
    """The fewest items that cover ``[start, end)`` exactly: months, else days, else hours."""
    for window in (Window.MONTH, Window.DAY):
        if _whole(start, end, window, tz):
            return window
    return Window.HOUR


def _whole(start: datetime, end: datetime, window: Window, tz: ZoneInfo) -> bool:
    return periods.window_start(start, window, tz) == start and periods.window_start(end, window, tz) == end


def _one_window(start: datetime, end: datetime, window: Window, tz: ZoneInfo) -> bool:
    return periods.window_start(start, window, tz) == start and periods.window_end(start, window, tz) == end
