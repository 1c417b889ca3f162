"""``services.ports.CounterReader`` on the counters table (pynamodb Query)."""

from __future__ import annotations

from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.usage_query import CounterCell

from .models import CounterModel


def _cell(item: CounterModel, window_key: str, group: str | None) -> CounterCell:
    return CounterCell(
        window_start=periods.parse_utc_key(window_key),
        value=item.value,
        latest_at=item.latest_at,
        group=group,
    )


class CounterReader:
    def totals(self, pk: str, low: str, high: str) -> list[CounterCell]:
        return [_cell(i, i.sk, None) for i in CounterModel.query(pk, CounterModel.sk.between(low, high))]

    def groups(self, pk: str, low: str, high: str) -> list[CounterCell]:
        cells = []
        for i in CounterModel.query(pk, CounterModel.sk.between(low, high + "$")):
            window_key, value = keys.split_group_sk(i.sk)
            cells.append(_cell(i, window_key, value))
        return cells
