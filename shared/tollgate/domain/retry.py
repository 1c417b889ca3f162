"""How long to wait before trying a store request again."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int) -> float:
    """Exponential from 25 ms, capped at 1 s, with jitter (half to all of it), so retries of
    concurrent writers spread out."""
    return min(1.0, 0.025 * 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
