"""(b) consumer CPU per event, (c) AWS requests and write units per event, (d) hot tenant.

Runs the real consumer use case (``CountUsage.count_messages`` of a composition root, as the
consumer function builds it) against moto in-process, with ``tollgate_dev.cost.DynamoCost``
counting requests and write units by AWS's sizing rules from the parameters of every DynamoDB
call (1 unit per KB per item, x2 in transactions, failed conditional writes charged). Events:
one tenant in Europe/Paris, one sum meter with group_by over 4 regions, so each event touches
5 distinct counter keys per window.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 10_000
PER_MESSAGE = 1_000
MESSAGES_PER_BATCH = 10  # the template's BatchSize
HOT_RATE = 10_000  # events/s for one tenant and one meter in (d)
REGIONS = ["eu", "us", "ap", "sa"]


def _messages(n_events: int, per_message: int, start: datetime) -> list[tuple[str, str]]:
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.wire.usage_message import encode

    meter = MeterSpec("api_calls", Aggregation.SUM, "value", ("region",))
    out = []
    for m in range(0, n_events, per_message):
        events = [
            UsageEvent(
                id=f"evt-{i}",
                meter="api_calls",
                time=format_time(start + timedelta(milliseconds=i)),
                value="1",
                dims={"region": REGIONS[i % len(REGIONS)]},
                data={"value": 1, "region": REGIONS[i % len(REGIONS)]},
            )
            for i in range(m, min(m + per_message, n_events))
        ]
        body = encode(UsageMessage("acme", "Europe/Paris", {"api_calls": meter}, events))
        out.append((str(uuid.uuid4()), body))
    return out


def _run_batches(messages: list[tuple[str, str]]) -> tuple[dict[str, Any], float]:
    """In a fresh execution environment (a new root) of the current moto world."""
    from tollgate.wiring import Root
    from tollgate_dev.cost import DynamoCost

    root = Root()
    cost = DynamoCost().attach(root.dynamodb)
    consumer = root.count_usage
    cpu = 0.0
    for i in range(0, len(messages), MESSAGES_PER_BATCH):
        batch = messages[i : i + MESSAGES_PER_BATCH]
        t0 = time.process_time()
        outcome = consumer.count_messages(batch)
        cpu += time.process_time() - t0
        assert not outcome.failed, outcome.failed
    return cost.summary(events=sum(b.count('"id"') for _, b in messages)), cpu


def run() -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.conftest import moto_stack

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    out: dict[str, Any] = {}
    with moto_stack():
        # (b) CPU per event: 100 events per message, as the issue asks.
        small = _messages(2_000, 100, start)
        summary_b, cpu_b = _run_batches(small)
        out["cpu_us_per_event_100_per_message"] = round(cpu_b / 2_000 * 1e6, 1)
    with moto_stack():
        # (c) 10,000 events, 1,000 per message (what ingest packs at 1,000 events per request).
        summary_c, cpu_c = _run_batches(_messages(EVENTS, PER_MESSAGE, start))
        out["write_units_per_event"] = round(summary_c["write_units_per_event"], 4)
        out["dynamodb_requests_per_event"] = round(summary_c["requests_per_event"], 4)
        out["cpu_us_per_event_1000_per_message"] = round(cpu_c / EVENTS * 1e6, 1)
        out["requests"] = summary_c["requests"]
    with moto_stack():
        # (d) one second of a hot tenant: 10,000 events in 1,000-event messages, 10 per batch,
        # i.e. what one second of traffic makes the consumer write. Writes per item per second.
        summary_d, _ = _run_batches(_messages(HOT_RATE, PER_MESSAGE, start))
        item, writes = summary_d["hottest_item"]
        out["hot_item_writes_per_second"] = writes
        out["hot_item"] = list(item) if item else None
        # Worst case: clients send one event per request, so each message holds one event and
        # a batch of 10 messages commits once: 1,000 commits/s touch each counter item.
        out["hot_item_writes_per_second_single_event_requests"] = HOT_RATE // MESSAGES_PER_BATCH
    # The naive design: per event a transaction of the marker plus every counter it touches
    # (5 windows x (1 total + 1 group)), each item 1 KB or less, x2 for the transaction.
    out["naive_write_units_per_event"] = 2 * (1 + 5 * 2)
    return out


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            "(b) consumer CPU per event, 100 events/message (incl. moto in-process)",
            f"{r['cpu_us_per_event_100_per_message']} µs",
            "report",
            "-",
        ),
        (
            "(c) DynamoDB write units per event, 10k events, 1000/message",
            f"{r['write_units_per_event']}",
            "<= 1.2",
            "yes" if r["write_units_per_event"] <= 1.2 else "NO",
        ),
        ("(c) DynamoDB requests per event", f"{r['dynamodb_requests_per_event']}", "report", "-"),
        (
            "(c) naive design (a transaction per event), write units per event",
            f"{r['naive_write_units_per_event']}",
            "comparison",
            "-",
        ),
        (
            "(d) hot tenant 10k events/s: max writes/s on one item (1000-event requests)",
            f"{r['hot_item_writes_per_second']}",
            "<= 1000",
            "yes" if r["hot_item_writes_per_second"] <= 1000 else "NO",
        ),
        (
            "(d) worst case, 1-event requests: computed 10k messages/s / 10 per batch",
            f"{r['hot_item_writes_per_second_single_event_requests']}",
            "<= 1000",
            "yes" if r["hot_item_writes_per_second_single_event_requests"] <= 1000 else "NO",
        ),
    ]
