"""The system clock. Services take a ``Clock`` (``ports.Clock``) by constructor; the
composition root gives them ``SystemClock``, unit tests a fake one.

``SystemClock`` reads the module-level ``now`` at each call, so an in-process integration test
can move time for every environment at once (``monkeypatch.setattr(clock, "now", ...)``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


class SystemClock:
    def now(self) -> datetime:
        return now()
