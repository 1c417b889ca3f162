"""The commit plan of a consumer batch: each message's additive counter deltas as units of
one transaction (a message marker plus its deltas, all or nothing), packed into
TransactWriteItems of at most 100 items. See docs/storage.md, "Commit".

A unit is split, deterministically, when one message needs more items than a transaction
takes; the parts depend only on the message's claimed events, so a redelivery recomputes the
same parts and skips the ones already committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import DECIMAL, CounterKey, CounterUpdates

MAX_TRANSACT_ITEMS = 100
"""TransactWriteItems takes at most 100 items (and 4 MB; our items are a few hundred bytes)."""

MESSAGE_MARKER_TTL = timedelta(days=15)
"""Longer than SQS can keep a message (14 days), so a redelivery always finds its marker."""


@dataclass(frozen=True)
class CommitUnit:
    """A message marker plus the additive deltas it makes durable, all or nothing."""

    message_id: str
    marker_pk: str
    counted: int  # events the message counts (the same on every part)
    adds: tuple[tuple[CounterKey, Decimal, int | None], ...]  # key, delta, expires_at


def commit_units(
    message_id: str, counted: int, updates: CounterUpdates, max_items: int = MAX_TRANSACT_ITEMS
) -> list[CommitUnit]:
    """A message's additive deltas as units. One unit (marker ``M#<id>``) when it fits a
    transaction with its marker; otherwise parts of ``max_items - 1`` keys in key order, each
    with marker ``M#<id>#<k>``. Depends only on the message's claimed events, so a redelivery
    recomputes the same parts."""
    items = sorted((k, v, updates.expires.get(k)) for k, v in updates.add.items())
    if not items:
        return []
    if len(items) + 1 <= max_items:
        return [CommitUnit(message_id, keys.message_marker_pk(message_id), counted, tuple(items))]
    size = max_items - 1
    return [
        CommitUnit(message_id, keys.message_part_marker_pk(message_id, n), counted, tuple(items[i : i + size]))
        for n, i in enumerate(range(0, len(items), size))
    ]


def pack_units(units: Sequence[CommitUnit], max_items: int = MAX_TRANSACT_ITEMS) -> list[list[CommitUnit]]:
    """Greedy packing into transactions; a counter key shared by units is one item."""
    txs: list[list[CommitUnit]] = []
    current: list[CommitUnit] = []
    current_keys: set[CounterKey] = set()
    for unit in units:
        unit_keys = {k for k, _, _ in unit.adds}
        need = 1 + len(unit_keys - current_keys)
        if current and len(current) + len(current_keys) + need > max_items:
            txs.append(current)
            current, current_keys = [], set()
        current.append(unit)
        current_keys |= unit_keys
    if current:
        txs.append(current)
    return txs


def coalesce_units(units: Sequence[CommitUnit]) -> dict[CounterKey, tuple[Decimal, int | None]]:
    """The counter items of one transaction: deltas summed per key."""
    out: dict[CounterKey, tuple[Decimal, int | None]] = {}
    for unit in units:
        for k, v, exp in unit.adds:
            old = out.get(k)
            out[k] = (DECIMAL.add(old[0], v) if old else v, exp if exp is not None else (old[1] if old else None))
    return out
