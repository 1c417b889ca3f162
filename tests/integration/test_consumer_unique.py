"""unique_count on moto (in-process), through the consumer's handler: exact day, month and
lifetime counts at a few thousand distinct values, no value claim or counter item over 10 KB,
and at most 3 write units per event (docs/storage.md, "Value claims" and "Cost")."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import FakeContext
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate_dev.cost import DynamoCost, item_size

from .test_consumer import (  # noqa: F401 - fixtures
    body,
    counter_state,
    expected_state,
    failures,
    handler,
    root_of,
    scan,
    sqs_event,
    tables,
)

pytestmark = pytest.mark.long(45)  # ~45 s in CI: make test starts it first (tests/conftest.py)

METERS = {"users": MeterSpec("users", Aggregation.UNIQUE_COUNT)}
NOV = datetime(2026, 10, 31, 23, tzinfo=UTC)  # November 1st in Paris
DEC = datetime(2026, 11, 30, 23, tzinfo=UTC)


def ev(event_id: str, value: str, at: datetime) -> UsageEvent:
    return UsageEvent(id=event_id, meter="users", time=format_time(at), value=value, data={"user": value})


def claim_units(cost: DynamoCost) -> int:
    """Write units spent on event markers and value claims."""
    return sum(units for (_, pk), units in cost.partition_units.items() if pk.startswith(("E#", "V#")))


def deliver(handler, events: list[UsageEvent], prefix: str, per_message: int = 500, per_batch: int = 4) -> int:
    messages = [
        (f"{prefix}-{i:04d}", body("acme", events[i : i + per_message], METERS))
        for i in range(0, len(events), per_message)
    ]
    for i in range(0, len(messages), per_batch):
        assert not failures(handler(sqs_event(messages[i : i + per_batch]), FakeContext()))
    return len(events)


def test_exact_counts_small_items_and_at_most_3_write_units_per_event(tables, handler):
    cost = DynamoCost().attach(root_of(handler).dynamodb)
    n = 1_000
    # Worst case first: every event a value new in its month and for ever.
    first = [ev(f"a{i}", f"user-{i}", NOV + timedelta(days=i % 30, minutes=i % 600)) for i in range(n)]
    deliver(handler, first, "first")
    new_values = cost.summary(events=n)
    new_claims = claim_units(cost) / n
    # Then the same users on other days, again the same day from other messages, and in December.
    cost.reset()
    again = [ev(f"b{i}", f"user-{i}", NOV + timedelta(days=(i + 7) % 30, minutes=i % 600)) for i in range(n)]
    again += [ev(f"c{i}", f"user-{i}", NOV + timedelta(days=i % 30, minutes=i % 600 + 1)) for i in range(0, n, 2)]
    again += [ev(f"d{i}", f"user-{i * 2}", DEC + timedelta(days=i % 31, minutes=i % 600)) for i in range(n)]
    events = deliver(handler, again, "again")
    repeats = cost.summary(events=events)
    repeat_claims = claim_units(cost) / events

    messages = [UsageMessage("acme", "Europe/Paris", METERS, first + again)]
    state = counter_state(tables)
    assert state == expected_state(messages)
    assert state[("T#acme#users#month", "2026-10-31T23:00:00Z")][0] == n
    assert state[("T#acme#users#month", "2026-11-30T23:00:00Z")][0] == n
    assert state[("T#acme#users#lifetime", "lifetime")][0] == Decimal(n + n // 2)  # the odd users of December are new
    assert not any(pk.endswith("#hour") or pk.endswith("#minute") for pk, _ in state)

    # Value claims and counters stay small whatever the cardinality (log chunks are the log's).
    sizes = {
        (it["pk"]["S"], it["sk"]["S"]): item_size(it)
        for table in (os.environ["EVENTS_TABLE"], os.environ["COUNTERS_TABLE"])
        for it in scan(tables, table)
        if not it["pk"]["S"].startswith("L#")
    }
    largest = max(sizes.values())
    assert largest < 1024, largest  # a month item with every day claimed is under 1 KB
    claims = [k for k in sizes if k[0].startswith("V#")]
    assert len([k for k in claims if k[1] == "L"]) == n + n // 2

    # The measured cost (docs/storage.md, "Cost"): the claims (event 1, month item 1, lifetime
    # 1 for a value new in its month) are at most 3 units per event; the log and the commit
    # (2 per message marker and per counter key, and these messages span 30 days: 32 keys
    # per 500 events) are shared by a message's events.
    print(
        f"\nwrite units per event: new values {new_values['write_units_per_event']:.3f} (claims {new_claims:.3f}),"
        f" repeats {repeats['write_units_per_event']:.3f} (claims {repeat_claims:.3f}); largest item {largest} bytes"
    )
    assert new_claims <= 3.0 and repeat_claims <= 3.0
    assert new_values["write_units_per_event"] <= 3.15
    assert repeats["write_units_per_event"] <= 3.0
