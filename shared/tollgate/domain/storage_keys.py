"""Key layout of the events and counters tables (see docs/storage.md). Pure; no AWS.

Tenant ids and meter keys never contain ``#`` (their patterns forbid it), so ``#`` is a safe
separator. Group values come last in a sort key, so they may hold anything.
"""

from __future__ import annotations

from typing import NamedTuple

from .periods import Window


class CounterKey(NamedTuple):
    """A counter item's key (``tollgate.domain.counting`` re-exports it)."""

    pk: str
    sk: str


# ---- events table
EVENT_SK = "E"
MESSAGE_SK = "M"


def event_marker_pk(tenant: str, event_id: str) -> str:
    """Dedupe marker: one per (tenant, event id); spread over partitions by the id."""
    return f"E#{tenant}#{event_id}"


def message_marker_pk(message_id: str) -> str:
    """Written in the same transaction as a message's counter deltas: 'this message counted'."""
    return f"M#{message_id}"


def message_part_marker_pk(message_id: str, part: int) -> str:
    """A part of a message too big for one transaction (more than 99 counter items).

    The parts of a message are a pure function of the events it claimed, so a redelivery
    recomputes the same parts and skips the ones already committed."""
    return f"M#{message_id}#{part}"


def log_pk(tenant: str, utc_day: str) -> str:
    """Raw-event chunks of one tenant and UTC day (``2026-11-20``)."""
    return f"L#{tenant}#{utc_day}"


def log_sk(max_time: str, message_id: str, part: int) -> str:
    """Chunks sort by the newest event they hold, so listing newest-first reads few chunks."""
    return f"{max_time}#{message_id}#{part:04d}"


def value_claim_pk(tenant: str, meter: str, value_hash: str) -> str:
    """Value claims of one unique_count value in one scope (the hash covers both), spread
    over partitions by the hash (``unique_values.value_hash``)."""
    return f"V#{tenant}#{meter}#{value_hash}"


VALUE_LIFETIME_SK = "L"


def value_month_sk(month_key: str) -> str:
    """A value's month item: ``month_key`` is ``periods.utc_key`` of the month's start."""
    return f"M#{month_key}"


def value_day_attribute(day_of_month: int) -> str:
    """The month item's attribute of one local day: ``d01``..``d31``."""
    return f"d{day_of_month:02d}"


# ---- counters table
def total_pk(tenant: str, meter: str, window: Window) -> str:
    return f"T#{tenant}#{meter}#{window.value}"


def group_pk(tenant: str, meter: str, window: Window, dimension: str) -> str:
    return f"G#{tenant}#{meter}#{window.value}#{dimension}"


def total_sk(window_key: str) -> str:
    """``window_key`` is ``periods.utc_key(start)``: fixed-width UTC, or ``lifetime``."""
    return window_key


def group_sk(window_key: str, value: str) -> str:
    return f"{window_key}#{value}"


def split_group_sk(sk: str) -> tuple[str, str]:
    window_key, _, value = sk.partition("#")
    return window_key, value
