"""Key layout of the events and counters tables (see docs/storage.md). Pure; no AWS.

Tenant ids and meter keys never contain ``#`` (their patterns forbid it), so ``#`` is a safe
separator. Group values come last in a sort key, so they may hold anything.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
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


LOG_SHARDS = 8
"""Partition keys per tenant and UTC day of the raw-event log. One tenant at 100,000 events/s
writes about 3,100 write units/s of log (31 KB per 1,000 events); over 8 shards that is about
390 per key, under DynamoDB's 1,000 per partition with room for the hash's unevenness (see
docs/storage.md, "Known limits"). A constant, not a setting: the consumer and the reader must
agree on it. Raising it keeps every stored chunk readable (the reader queries every shard
below it); lowering it hides the chunks of the dropped shards."""


def log_shard(message_id: str) -> int:
    """The log shard of a message: a stable hash (BLAKE2b, not Python's salted ``hash``) of its
    id, so every delivery of a message writes its chunks to the same keys."""
    digest = hashlib.blake2b(message_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % LOG_SHARDS


def log_pk(tenant: str, utc_day: str, shard: int) -> str:
    """Raw-event chunks of one tenant, UTC day (``2026-11-20``) and shard (``log_shard`` of the
    message that wrote them)."""
    return f"L#{tenant}#{utc_day}#{shard}"


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


def consume_day_key(tenant: str, meter: str, day_key: str) -> str:
    """The consume record's index key (``cd`` on a consume marker, GSI ``by_consume_day``): the
    day total ``T#<tenant>#<meter>#day`` / ``day_key`` the consume added its amount to."""
    return f"C#{tenant}#{meter}#{day_key}"


def consume_record_key(tenant: str, counter: CounterKey) -> str | None:
    """``consume_day_key`` when ``counter`` is one of the tenant's day totals, else None: a
    consume's transaction writes every counted window, and its day total names the record."""
    prefix, suffix = f"T#{tenant}#", f"#{Window.DAY.value}"
    if counter.pk.startswith(prefix) and counter.pk.endswith(suffix):
        return consume_day_key(tenant, counter.pk[len(prefix) : -len(suffix)], counter.sk)
    return None


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


# ---- alert-state table: the activity index
def activity_pk(hour: datetime) -> str:
    """The (tenant, meter) pairs active in one UTC hour: ``A#2026-11-20T05``. ``hour`` is any
    instant of the hour."""
    return "A#" + hour.astimezone(UTC).strftime("%Y-%m-%dT%H")


def activity_sk(tenant: str, meter: str) -> str:
    if "#" in tenant or "#" in meter:
        raise ValueError("tenant ids and meter keys never contain '#'")
    return f"{tenant}#{meter}"


def split_activity_sk(sk: str) -> tuple[str, str]:
    tenant, _, meter = sk.partition("#")
    return tenant, meter
