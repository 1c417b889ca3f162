"""Stored counter windows, in memory: ``ports.CounterReader`` (the adapter:
tollgate.adapters.counter_reader.CounterReader) over items keyed like the counters table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.periods import Window
from tollgate.domain.usage_query import CounterCell


class FakeCounterReader:
    """``items[pk][sk]`` as the consumer writes them; ``put_total`` / ``put_group`` add one.
    ``queries`` records each read as ``(kind, pk, low, high)``."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, CounterCell]] = {}
        self.queries: list[tuple[str, str, str, str]] = []

    def put_total(
        self,
        tenant: str,
        meter: str,
        window: Window,
        start: datetime,
        value: Decimal | int | str | None = None,
        *,
        latest_at: str | None = None,
    ) -> None:
        sk = keys.total_sk(periods.utc_key(start))
        self.items.setdefault(keys.total_pk(tenant, meter, window), {})[sk] = CounterCell(
            window_start=start, value=None if value is None else Decimal(value), latest_at=latest_at
        )

    def put_group(
        self,
        tenant: str,
        meter: str,
        window: Window,
        dimension: str,
        group: str,
        start: datetime,
        value: Decimal | int | str | None = None,
    ) -> None:
        sk = keys.group_sk(periods.utc_key(start), group)
        self.items.setdefault(keys.group_pk(tenant, meter, window, dimension), {})[sk] = CounterCell(
            window_start=start, value=None if value is None else Decimal(value), group=group
        )

    def _between(self, pk: str, low: str, high: str) -> list[tuple[str, CounterCell]]:
        return sorted((sk, c) for sk, c in self.items.get(pk, {}).items() if low <= sk <= high)

    def totals(self, pk: str, low: str, high: str) -> list[CounterCell]:
        self.queries.append(("totals", pk, low, high))
        return [c for _, c in self._between(pk, low, high)]

    def groups(self, pk: str, low: str, high: str) -> list[CounterCell]:
        self.queries.append(("groups", pk, low, high))
        out = []
        for sk, c in self._between(pk, low, high + "$"):
            window_key, value = keys.split_group_sk(sk)
            out.append(CounterCell(periods.parse_utc_key(window_key), c.value, c.latest_at, value))
        return out
