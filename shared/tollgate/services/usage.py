"""Usage queries: a meter's series and total for one tenant over a range of windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tollgate.adapters.models import CounterModel
from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.errors import FieldError, ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.usage_query import CounterCell, cell_value, is_empty, total

from . import clock, meters, tenants

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


def _range_keys(start: datetime, end: datetime, window: Window, tz) -> tuple[str, str]:
    first = periods.window_start(start, window, tz)
    # Windows that start before ``end``: every key up to the last whole second before it.
    last = end.replace(microsecond=0) - timedelta(seconds=0 if end.microsecond else 1)
    return periods.utc_key(first), periods.utc_key(last)


def _cell(item: CounterModel, window_key: str, group: str | None) -> CounterCell:
    return CounterCell(
        window_start=periods.parse_utc_key(window_key),
        value=item.value,
        latest_at=item.latest_at,
        uniques=frozenset(item.uniques or ()),
        group=group,
    )


def current_month(tz, now: datetime) -> tuple[datetime, datetime]:
    """The start of the month holding ``now`` in ``tz``, and the start of the next."""
    start = periods.window_start(now, Window.MONTH, tz)
    return start, periods.window_end(start, Window.MONTH, tz)


def query_usage(
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
        tenant = tenants.get_tenant(tenant_id)  # 404 first: the defaults need its zone
        month_start, month_end = current_month(periods.zone(tenant.timezone), clock.now())
        start = month_start if start is None else start
        end = month_end if end is None else end
    errors = []
    if end <= start:
        errors.append(FieldError("to", "must be after from"))
    elif end - start > MAX_SPAN[window]:
        errors.append(FieldError("from", f"a {window.value} series spans at most {MAX_SPAN[window].days} days"))
    if errors:
        raise ValidationFailed("the range is not valid", errors)
    tenant = tenant or tenants.get_tenant(tenant_id)
    meter = meters.get_meter(meter_key)
    if group_by is not None and group_by not in meter.group_by:
        raise ValidationFailed(
            f"meter {meter.key!r} does not group by {group_by!r}",
            [FieldError("group_by", f"must be one of the meter's group_by: {meter.group_by}")],
        )
    tz = periods.zone(tenant.timezone)
    low, high = _range_keys(start, end, window, tz)
    agg = meter.aggregation
    totals = [
        _cell(i, i.sk, None)
        for i in CounterModel.query(keys.total_pk(tenant.id, meter.key, window), CounterModel.sk.between(low, high))
    ]
    if group_by is None:
        cells = totals
    else:
        pk = keys.group_pk(tenant.id, meter.key, window, group_by)
        cells = []
        for i in CounterModel.query(pk, CounterModel.sk.between(low, high + "$")):
            window_key, value = keys.split_group_sk(i.sk)
            cells.append(_cell(i, window_key, value))
    series = []
    for c in (c for c in cells if not is_empty(c, agg)):
        s = c.window_start.astimezone(tz)
        series.append(
            SeriesPoint(
                start=s,
                end=periods.window_end(s, window, tz),
                value=cell_value(c, agg),
                group=None if c.group is None else {group_by: c.group},
            )
        )
    return Usage(
        tenant=tenant.id,
        meter=meter.key,
        aggregation=agg,
        window=window,
        timezone=tenant.timezone,
        start=start,
        end=end,
        total=total(totals, agg),
        series=series,
    )
