"""Recording which (tenant, meter) pairs are active, for the jobs that read the activity index
(``ports.ActivityIndex``): the alert sweep and the daily reconciliation.

The alert evaluator sees every counter change; marking each one would cost a write per change.
``ActivityRecorder`` marks a pair at most once per UTC hour per execution environment, so the
index costs about one write per active pair, hour and environment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from tollgate.domain.reconcile import hour_floor

from .ports import ActivityIndex, Clock


class ActivityRecorder:
    """One per execution environment (the composition root keeps it). Remembers the pairs it
    marked in the current hour and forgets them when the hour changes. A mark that fails is not
    remembered, so the next ``record`` of the pair tries again."""

    def __init__(self, index: ActivityIndex, clock: Clock) -> None:
        self._index, self._clock = index, clock
        self._hour: datetime | None = None
        self._marked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def record(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Mark the pairs not yet marked this hour; returns how many were marked. Raises when the
        index could not be written (the pairs stay unmarked here)."""
        hour = hour_floor(self._clock.now())
        with self._lock:
            if hour != self._hour:
                self._hour, self._marked = hour, set()
            new = [p for p in dict.fromkeys(pairs) if p not in self._marked]
        if not new:
            return 0
        self._index.mark(hour, new)
        with self._lock:
            if hour == self._hour:
                self._marked.update(new)
        return len(new)
