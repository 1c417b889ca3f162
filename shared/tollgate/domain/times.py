"""Time text. Pure; no AWS.

Tollgate keeps one form of an instant as text: fixed-width UTC with microseconds
(``2026-11-20T05:00:00.000000Z``, ``format_time``), so that text order is time order. Events
carry it in the usage message and the raw-event log, and log keys sort by it.

Clients send RFC 3339 with an offset (``event_time`` reads it), within bounds around now:
``MAX_AGE`` back (the consumer's dedupe window) and ``MAX_AHEAD`` ahead (clock skew).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
"""What ``format_time`` gives (a stored time that does not match was not written by it)."""
TIME_EXAMPLE = "2026-11-20T10:00:00Z"

MAX_AGE = timedelta(days=35)
"""How old an event may be: the consumer's dedupe window."""
MAX_AHEAD = timedelta(minutes=5)
"""How far ahead of now an event or a consume may be: clock skew."""
MAX_AHEAD_MINUTES = int(MAX_AHEAD.total_seconds() // 60)
TOO_OLD = f"is more than {MAX_AGE.days} days in the past"
TOO_FAR_AHEAD = f"is more than {MAX_AHEAD_MINUTES} minutes in the future"

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?\Z")


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """The instant of ``format_time`` text. ValueError for anything else."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def event_time(text: Any, lo: datetime, hi: datetime) -> tuple[str | None, str | None]:
    """An event's RFC 3339 ``time`` as ``(format_time() text, None)``, or ``(None, error
    message)`` when it is not one, has no offset, or is outside ``lo <= time <= hi``."""
    if not isinstance(text, str):
        return None, f"must be an RFC 3339 date-time string such as {TIME_EXAMPLE}"
    m = _RFC3339.match(text)
    if m is None:
        return None, f"must be an RFC 3339 date-time with an offset, such as {TIME_EXAMPLE}"
    offset = m.group(1)
    if offset is None:
        return None, f"has no UTC offset, so the instant is ambiguous; add Z or ±hh:mm (e.g. {TIME_EXAMPLE})"
    if len(offset) == 6 and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
        return None, f"has an offset of {offset}; offsets are between -23:59 and +23:59"
    try:
        at = datetime.fromisoformat(text.upper() if "t" in text or "z" in text else text)
    except ValueError:
        return None, "is not a valid date-time (check the day of the month and the time of day)"
    if at < lo:
        return None, TOO_OLD
    if at > hi:
        return None, TOO_FAR_AHEAD
    return at.astimezone(UTC).strftime(TIME_FORMAT), None  # format_time(at), inline: once per event
