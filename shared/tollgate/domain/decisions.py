"""The consume decision as a document: what ``POST /v1/consume`` answers, and what the dedupe
marker stores so that a retry of the id is answered the same. Pure; no AWS.

A stored record: the marker keeps the document as JSON (``d``) for the dedupe window, so its
keys and number forms stay as they are. ``w`` (the window lengths, for the RateLimit headers)
is stored and not answered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NotRequired, TypedDict
from zoneinfo import ZoneInfo

from .numbers import JsonNumber, json_number
from .periods import Window
from .plans import Enforcement
from .quota import LimitState, Reason

LIFETIME_RETRY_AFTER_S = 86_400
"""A lifetime limit never resets; a denial against it says "ask again in a day" (the operator
must raise the limit), because a 429 always carries Retry-After."""


class LimitEntry(TypedDict):
    """One member of a decision's ``limits``."""

    meter: str
    window: str
    limit: JsonNumber
    used: JsonNumber
    remaining: JsonNumber
    resets_at: str | None  # RFC 3339 in the tenant's zone; None for lifetime
    enforcement: str
    exceeded: bool


class DecisionDoc(TypedDict):
    allowed: bool
    reason: str | None
    limits: list[LimitEntry]
    w: NotRequired[list[int | None]]  # window lengths in seconds, per limit; absent on old markers


def limit_entry(state: LimitState, tz: ZoneInfo, exceeded: bool) -> LimitEntry:
    """One member of a decision's ``limits`` (JSON-safe)."""
    return {
        "meter": state.limit.meter,
        "window": state.limit.window.value,
        "limit": json_number(state.limit.limit),
        "used": json_number(state.used),
        "remaining": json_number(state.remaining),
        "resets_at": None if state.window.end is None else state.window.end.astimezone(tz).isoformat(),
        "enforcement": state.limit.enforcement.value,
        "exceeded": exceeded,
    }


def decision_doc(
    allowed: bool, states: Sequence[LimitState], exceeded: set[tuple[str, Window]], tz: ZoneInfo
) -> DecisionDoc:
    """The decision as stored on the dedupe marker and answered (again) to a retry.

    ``states`` hold the values the decision saw *after* the amount when allowed, before it
    when denied; ``w`` (window lengths, for the headers) is not part of the answer."""
    return {
        "allowed": allowed,
        "reason": None if allowed else Reason.QUOTA_EXCEEDED.value,
        "limits": [limit_entry(s, tz, s.limit.key in exceeded) for s in states],
        "w": [s.window.seconds() for s in states],
    }


def seconds_until(iso: str | None, now: datetime) -> int | None:
    """Whole seconds from ``now`` to a stored ``resets_at`` (rounded up, at least 0); None for
    lifetime."""
    if iso is None:
        return None
    return max(0, math.ceil((datetime.fromisoformat(iso).astimezone(UTC) - now.astimezone(UTC)).total_seconds()))


def doc_retry_after(doc: DecisionDoc, now: datetime) -> int | None:
    """Seconds until a denial can be allowed: until every exceeded hard limit has reset. None
    when allowed."""
    if doc.get("allowed"):
        return None
    waits = []
    for e in doc["limits"]:
        if e["exceeded"] and e["enforcement"] == Enforcement.HARD.value:
            left = seconds_until(e["resets_at"], now)
            waits.append(LIFETIME_RETRY_AFTER_S if left is None else left)
    return max(1, max(waits, default=1))
