"""A fake world with the analytics roll-ups wired (the job and the query service on
tests/fakes/rollups.py), and a way to count usage into the fake counters as the consumer does:
the hour and day windows of the tenant's zone, and an activity mark."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.rollups import FakeRollupStore
from tests.fakes.world import World
from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.periods import Window
from tollgate.services.analytics import AnalyticsService
from tollgate.services.rollup_job import RollupJob


class RollupWorld:
    def __init__(self, operator_tz: str = "UTC", store: Any = None, reader: Any = None) -> None:
        self.w = World()
        self.store = store if store is not None else FakeRollupStore()
        self.tz = ZoneInfo(operator_tz)
        self.job = RollupJob(
            self.w.stores.activity_index,
            self.w.catalog,
            reader if reader is not None else self.w.stores.counter_reader,
            self.store,
            self.w.clock,
            self.tz,
            workers=1,  # the fakes count calls in order: the fault-injection tests fail the n-th
        )
        self.analytics = AnalyticsService(
            self.store, self.w.usage, self.w.tenants, self.w.meters, self.w.clock, self.tz
        )

    def count(self, tenant: str, meter: str, at: datetime, amount: int | str) -> None:
        """``amount`` of ``meter`` at ``at``, counted now (the pair is marked active now)."""
        reader = self.w.stores.counter_reader
        tz = periods.zone(self.w.catalog.timezone_of(tenant) or "UTC")
        for window in (Window.HOUR, Window.DAY, Window.MONTH):
            start = periods.window_start(at, window, tz)
            assert start is not None
            cell = reader.items.get(keys.total_pk(tenant, meter, window), {}).get(periods.utc_key(start))
            before = cell.value if cell is not None and cell.value is not None else Decimal(0)
            reader.put_total(tenant, meter, window, start, before + Decimal(amount))
        self.w.stores.activity_index.mark(self.w.clock.now(), [(tenant, meter)])

    def state(self) -> dict[str, Any]:
        s = self.store
        return {
            "days": s.days,
            "series": s.series,
            "plans": s.plans,
            "months": s.months,
            "seen": s.seen_values,
        }
