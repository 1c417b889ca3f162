"""What the reconciliation reads of a day, in memory: ``ports.DaySources`` over the fake
consumer's raw-event log (``FakeEventLedger.log``) and the counters and markers it shares with
the consume path (``FakeCounterStore``), as tollgate.adapters.day_sources reads the tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import DECIMAL, CounterKey
from tollgate.domain.periods import Window
from tollgate.domain.reconcile import utc_days
from tollgate.domain.times import format_time

from .counter_store import Counters, Markers


class FakeDaySources:
    """``calls`` counts each method's calls. ``during_recount``: called once each time
    ``logged`` starts (a test's writer, between the two counter reads of a measurement)."""

    def __init__(self, log: dict[tuple[str, str], tuple[dict[str, Any], ...]], counters: Counters, markers: Markers):
        self.log, self.counters, self.markers = log, counters, markers
        self.calls: Counter[str] = Counter()
        self.during_recount: Callable[[], None] | None = None

    def counted(self, tenant: str, meters: Sequence[str], day_key: str) -> dict[str, Decimal]:
        self.calls["counted"] += 1
        out = {}
        for m in dict.fromkeys(meters):
            item = self.counters.get(CounterKey(keys.total_pk(tenant, m, Window.DAY), keys.total_sk(day_key)))
            out[m] = item.v if item is not None and item.v is not None else Decimal(0)
        return out

    def consumed(self, tenant: str, meter: str, day_key: str) -> Decimal:
        self.calls["consumed"] += 1
        record = keys.consume_day_key(tenant, meter, day_key)
        total = Decimal(0)
        for item in list(self.markers.values()):
            if item.consume_day == record and item.amount is not None:
                total = DECIMAL.add(total, item.amount)
        return total

    def logged(self, tenant: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        self.calls["logged"] += 1
        if self.during_recount is not None:
            self.during_recount()
        lower, upper = format_time(start), format_time(end)
        days = {d.isoformat() for d in utc_days(start, end)}
        for (pk, _), events in sorted(self.log.items()):
            _, owner, day, _ = pk.split("#")
            if owner == tenant and day in days:
                yield from (e for e in events if lower <= e["time"] < upper)
