"""The retry policy, pure: which answers are worth another try, and how long to wait first.

Retried: connection errors and timeouts, 429 (a problem document: rate limited before the
route ran), 502, 503 and 504. Never another 4xx: that is a :class:`ProblemError` to fix.
The wait is exponential backoff with full jitter, ``uniform(0, min(cap, base * 2**attempt))``
(attempt 0 is the first retry), and at least the answer's ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


class Uniform(Protocol):
    """What the policy needs of ``random.Random``."""

    def uniform(self, a: float, b: float) -> float: ...


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110
    section 10.2.3). None when absent or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when.astimezone(UTC) - now.astimezone(UTC)).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base: float = 0.5
    cap: float = 30.0

    def backoff(self, attempt: int, rng: Uniform) -> float:
        """Full jitter: a uniform draw between 0 and the capped exponential."""
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** min(attempt, 62)))

    def delay(self, attempt: int, rng: Uniform, retry_after: float | None = None) -> float:
        """How long to wait before retry number ``attempt`` (0-based)."""
        wait = self.backoff(attempt, rng)
        return max(wait, retry_after) if retry_after is not None else wait

    def may_retry(self, attempt: int, max_retries: int | None = None) -> bool:
        """Whether retry number ``attempt`` (0-based) is allowed; a negative limit: forever."""
        limit = self.max_retries if max_retries is None else max_retries
        return limit < 0 or attempt < limit
