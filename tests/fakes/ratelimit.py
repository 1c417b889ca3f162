"""API rate-limit buckets in memory: ``ports.BucketStore`` with DynamoBucketStore's
conditional semantics (tollgate.domain.ratelimit.apply_write)."""

from __future__ import annotations

import threading
from collections import Counter

from tollgate.domain.ratelimit import US, LeaseWrite, apply_write


class FakeBucketStore:
    """``tat[key]`` is the bucket's TAT in microseconds; ``writes`` counts write attempts per
    ``(key, whole second of the write's now)`` (failed conditional writes cost too; a write that raises ``fail`` is not counted).
    ``fail``: every write raises it (the table cannot be reached)."""

    def __init__(self) -> None:
        self.tat: dict[str, int] = {}
        self.writes: Counter[tuple[str, int]] = Counter()
        self.fail: Exception | None = None
        self._lock = threading.Lock()

    def write(self, key: str, write: LeaseWrite) -> tuple[bool, int | None]:
        with self._lock:
            if self.fail is not None:
                raise self.fail
            self.writes[(key, write.now_us // US)] += 1
            current = self.tat.get(key)
            new = apply_write(write, current)
            if new is None:
                return False, current
            self.tat[key] = new
            return True, new
