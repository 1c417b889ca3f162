"""The system clock. Services take a ``Clock`` (``ports.Clock``) by constructor; the
composition root gives them ``SystemClock``, unit tests a fake one.

``SystemClock`` reads the module-level ``now`` at each call, so an in-process integration test
can move time for every environment at once (``monkeypatch.setattr(clock, "now", ...)``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ports import Clock

now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


class SystemClock:
    def now(self) -> datetime:
        return now()


def parse_as_of(text: Any) -> datetime:
    """A scheduled job's ``as_of`` (EventBridge Scheduler's ``<aws.scheduler.scheduled-time>``,
    or an operator's RFC 3339 instant for a rerun). ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError("as_of must be an RFC 3339 date-time string")
    at = datetime.fromisoformat(text)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("as_of must carry a UTC offset")
    return at


def scheduled_time(event: Mapping[str, Any], clock: Clock) -> datetime:
    """The time a scheduled job runs as: its event's ``as_of`` (a retry keeps it, so a retried
    run does the same work), else ``clock.now()``."""
    as_of = event.get("as_of")
    return parse_as_of(as_of) if as_of else clock.now()
