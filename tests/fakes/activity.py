"""The activity index in memory: ``ports.ActivityIndex`` with the semantics of
tollgate.adapters.activity_index.DynamoActivityIndex (tests/integration/test_activity_index.py
holds both to one contract)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tollgate.domain import storage_keys as keys
from tollgate.domain.reconcile import hour_floor, hours_between


class FakeActivityIndex:
    """``hours[UTC hour start]``: the pairs marked in it. ``writes`` counts the marks written
    (what the adapter pays one write unit each for); ``fail_marks``: the next ``mark`` calls
    that raise (nothing written)."""

    def __init__(self) -> None:
        self.hours: dict[datetime, set[tuple[str, str]]] = {}
        self.writes = 0
        self.fail_marks = 0

    def mark(self, hour: datetime, pairs: Iterable[tuple[str, str]]) -> None:
        start = hour_floor(hour)
        marks = list(dict.fromkeys(pairs))
        for tenant, meter in marks:
            keys.activity_sk(tenant, meter)  # the adapter's check of the key parts
        if self.fail_marks:
            self.fail_marks -= 1
            raise RuntimeError("the activity index is unavailable")
        self.hours.setdefault(start, set()).update(marks)
        self.writes += len(marks)

    def active(self, start: datetime, end: datetime) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for hour in hours_between(start, end):
            found |= self.hours.get(hour, set())
        return found
