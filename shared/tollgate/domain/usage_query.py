"""Folding counter items into a usage series and a range total. Pure; no AWS.

Each aggregation totals a range its own way: sum and count add, max takes the max, latest
takes the value with the greatest event time. unique_count windows hold exact distinct counts,
which do not add up: a range's total is one window's count, so the caller passes the cells of
exactly one window, or gets None (``UsageService`` reads the day or month that is the range).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .meters import Aggregation


@dataclass(frozen=True)
class CounterCell:
    """One counter item: a window (and optional group value) of one meter."""

    window_start: datetime
    value: Decimal | None = None
    latest_at: str | None = None  # "<event time>#<event id>" for latest
    group: str | None = None


def cell_value(cell: CounterCell, aggregation: Aggregation) -> Decimal:
    return cell.value if cell.value is not None else Decimal(0)


def is_empty(cell: CounterCell, aggregation: Aggregation) -> bool:
    if aggregation is Aggregation.LATEST:
        return cell.latest_at is None
    return cell.value is None


def total(cells: list[CounterCell], aggregation: Aggregation) -> Decimal | None:
    """The aggregate over every cell. With no usage: 0, or None for max and latest. For
    unique_count, the count of the one window given (0 without an item); None for the cells
    of more than one window, whose counts cannot be combined exactly."""
    cells = [c for c in cells if not is_empty(c, aggregation)]
    if aggregation is Aggregation.UNIQUE_COUNT:
        if len(cells) > 1:
            return None
        return cell_value(cells[0], aggregation) if cells else Decimal(0)
    if not cells:
        return None if aggregation in (Aggregation.MAX, Aggregation.LATEST) else Decimal(0)
    if aggregation in (Aggregation.SUM, Aggregation.COUNT):
        return sum((cell_value(c, aggregation) for c in cells), Decimal(0))
    if aggregation is Aggregation.MAX:
        return max(cell_value(c, aggregation) for c in cells)
    newest = max(cells, key=lambda c: c.latest_at or "")
    return cell_value(newest, aggregation)
