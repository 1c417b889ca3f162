"""A settable clock: ``ports.Clock`` (``now()``), plus the monotonic and epoch-seconds views
the caches and the rate limiter take, all moved together by ``advance``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, at: datetime = T0) -> None:
        if at.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.at = at
        self._origin = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move forward ``seconds`` (and any ``timedelta`` keywords: ``minutes=``, ``days=``)."""
        self.at += timedelta(seconds=seconds, **delta)
        return self.at

    def monotonic(self) -> float:
        """Seconds of ``at`` since the clock was built (setting ``at`` moves it too), for
        ``TtlCache`` / ``Catalog`` / ``KeyService(monotonic=...)``. Do not set ``at`` backwards
        in a test that relies on it: a real monotonic clock never goes back."""
        return (self.at - self._origin).total_seconds()

    def epoch_seconds(self) -> float:
        """For ``RateLimiter(store, now=...)``."""
        return self.at.timestamp()
