from datetime import UTC, datetime
from decimal import Decimal

from tollgate.domain.meters import Aggregation
from tollgate.domain.usage_query import CounterCell, total

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 11, 2, tzinfo=UTC)


def test_sum_adds_and_max_takes_the_max():
    cells = [CounterCell(T0, Decimal("1.5")), CounterCell(T1, Decimal("2"))]
    assert total(cells, Aggregation.SUM) == Decimal("3.5")
    assert total(cells, Aggregation.MAX) == Decimal("2")


def test_latest_takes_the_greatest_event_time_not_the_last_window():
    cells = [
        CounterCell(T0, Decimal("7"), latest_at="2026-11-01T10:00:00.000000Z#b"),
        CounterCell(T1, Decimal("3"), latest_at="2026-11-02T09:00:00.000000Z#a"),
    ]
    assert total(cells, Aggregation.LATEST) == Decimal("3")
    assert total(list(reversed(cells)), Aggregation.LATEST) == Decimal("3")


def test_unique_count_totals_one_window_exactly_and_refuses_to_add_windows():
    """Distinct counts of two days do not add up (a value may be in both): no total."""
    one = [CounterCell(T0, Decimal(2))]
    assert total(one, Aggregation.UNIQUE_COUNT) == Decimal(2)
    assert total([*one, CounterCell(T1, Decimal(2))], Aggregation.UNIQUE_COUNT) is None
    assert total([*one, CounterCell(T1)], Aggregation.UNIQUE_COUNT) == Decimal(2)  # an empty cell is no usage


def test_no_usage():
    assert total([], Aggregation.SUM) == 0 and total([], Aggregation.UNIQUE_COUNT) == 0
    assert total([], Aggregation.MAX) is None and total([], Aggregation.LATEST) is None
