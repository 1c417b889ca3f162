"""The one clock. Tests replace ``now`` to move time without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
