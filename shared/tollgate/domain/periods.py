"""Usage windows in a tenant's IANA time zone. Pure; no AWS.

Windows are wall-clock periods in the tenant's zone (minute, hour, day, month) plus a
lifetime total. A window is identified by its start instant; the end is the next window's
start, so a day across a DST change is 23 or 25 hours long, and zones with :30 and :45
offsets get local hour boundaries. Where local midnight does not exist (a DST gap at
midnight), the day starts at the first instant that does.

Counter sort keys use ``utc_key``: fixed-width UTC text, so text order is time order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

LIFETIME_KEY = "lifetime"


class Window(str, Enum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    LIFETIME = "lifetime"


COUNTED_WINDOWS: tuple[Window, ...] = (Window.MINUTE, Window.HOUR, Window.DAY, Window.MONTH, Window.LIFETIME)
"""Every counter window the consumer maintains for each event."""

UNIQUE_WINDOWS: tuple[Window, ...] = (Window.DAY, Window.MONTH, Window.LIFETIME)
"""The windows a unique_count meter is counted in. Hours and minutes are not: an exact count
per hour would need a value claim per value and hour, a write per event more, for windows no
bill uses (docs/storage.md, "Value claims")."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""Instants the API takes are ``EARLIEST <= t < LATEST``: a year of margin below ``datetime.max``,
so no offset, time zone, window end or default range derived from one overflows."""


def instant_problem(at: datetime) -> str | None:
    """Why an aware instant is outside the range the API takes, or None."""
    if EARLIEST <= at < LATEST:  # aware comparison: no conversion, so nothing overflows here
        return None
    return "must be between 1970-01-01T00:00:00Z and 9998-12-31T23:59:59Z"


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)
"""The geographic areas of tzdata's Area/Location names."""


def is_valid_timezone(name: str) -> bool:
    """A zone a tenant may be given: an IANA ``Area/Location`` name (``Europe/Paris``,
    ``America/Argentina/Buenos_Aires``) of a geographic area, or ``UTC`` / ``Etc/UTC``.

    Refused, though tzdata has them: POSIX-style and legacy names (``EST5EDT``, ``CET``, ``EST``,
    ``GMT``, ``Zulu``), country aliases (``US/Eastern``, ``Canada/Pacific``), ``Etc/GMT+5`` and
    kin (their sign is inverted), and what a system adds (``localtime``, ``Factory``,
    ``posixrules``). Old location aliases such as ``Asia/Calcutta`` are kept: browsers (ICU)
    still report them. Only new input is checked this way; ``zone`` loads any stored name."""
    if name in ("UTC", "Etc/UTC"):
        return True
    area, sep, _ = name.partition("/")
    return bool(sep) and area in AREAS and name in _zone_names()


def is_known_zone(name: str) -> bool:
    """Any zone tzdata can load - what a tenant stored before ``is_valid_timezone`` was strict may hold."""
    return name == "UTC" or name in _zone_names()


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    if not is_known_zone(name):
        raise ZoneInfoNotFoundError(name)
    return ZoneInfo(name)


def _localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in ``tz`` as an aware instant; a time in a DST gap becomes the gap's end."""
    aware = naive.replace(tzinfo=tz)
    instant = aware.astimezone(UTC)
    return instant.astimezone(tz)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: times must carry a zone")


def window_start(at: datetime, window: Window, tz: ZoneInfo) -> datetime | None:
    """Start of the window holding instant ``at``, aware in ``tz``; None for lifetime."""
    _require_aware(at)
    local = at.astimezone(tz)
    if window is Window.LIFETIME:
        return None
    if window is Window.MINUTE:
        return local.replace(second=0, microsecond=0)
    if window is Window.HOUR:
        # replace() keeps ``fold``, so the repeated hour of a DST fall-back stays distinct.
        return local.replace(minute=0, second=0, microsecond=0)
    if window is Window.DAY:
        start = _localize(datetime(local.year, local.month, local.day), tz)
    else:
        start = _localize(datetime(local.year, local.month, 1), tz)
    if start > local:  # only when the day's own start was swallowed by a gap
        start = local
    return start


def window_end(start: datetime, window: Window, tz: ZoneInfo) -> datetime | None:
    """The instant the window starting at ``start`` ends (the next window's start)."""
    _require_aware(start)
    if window is Window.LIFETIME:
        return None
    if window is Window.MINUTE:
        return (start.astimezone(UTC) + timedelta(minutes=1)).astimezone(tz)
    if window is Window.HOUR:
        nxt = (start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz)
        return window_start(nxt, Window.HOUR, tz)
    local = start.astimezone(tz)
    if window is Window.DAY:
        d = local.date() + timedelta(days=1)
        return _localize(datetime(d.year, d.month, d.day), tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return _localize(datetime(year, month, 1), tz)


def utc_key(instant: datetime | None) -> str:
    """Fixed-width UTC text for a window start: ``2026-11-20T05:00:00Z``; ``lifetime`` for None."""
    if instant is None:
        return LIFETIME_KEY
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_key(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def windows_between(start: datetime, end: datetime, window: Window, tz: ZoneInfo) -> Iterator[datetime]:
    """Starts of every window that overlaps [start, end), in order."""
    if window is Window.LIFETIME:
        raise ValueError("lifetime has no series")
    cur = window_start(start, window, tz)
    while cur is not None and cur < end:
        yield cur
        cur = window_end(cur, window, tz)


def today(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()


def format_instant(instant: datetime, tz: ZoneInfo) -> str:
    """RFC 3339 text in the tenant's zone, with its offset (``2026-11-20T00:00:00+01:00``)."""
    return instant.astimezone(tz).isoformat()
