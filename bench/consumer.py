"""(b) consumer CPU per event. The write units per event that (c) measured here are now the
whole matrix of ``bench.cost_matrix``, and (d), the hot tenant, is ``bench.hot_tenant`` (issue 9).

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


def _run_batches(messages: list[tuple[str, str]], per_call: int) -> tuple[dict[str, Any], float]:
    """In a fresh execution environment (a new root) of the current moto world."""
    from tollgate.wiring import Root
    from tollgate_dev.cost import DynamoCost

    root = Root()
    cost = DynamoCost().attach(root.dynamodb)
    consumer = root.count_usage
    cpu = 0.0
    for i in range(0, len(messages), per_call):
        batch = messages[i : i + per_call]
        t0 = time.process_time()
        outcome = consumer.count_messages(batch)
        cpu += time.process_time() - t0
        assert not outcome.failed, outcome.failed
    return cost.summary(events=sum(b.count('"id"') for _, b in messages)), cpu


def run() -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT))
    from bench.cost_matrix import pipeline
    from tests.conftest import moto_stack

    per_call = pipeline().consumer_batch  # the ConsumerFunction's SQS BatchSize

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    out: dict[str, Any] = {}
    with moto_stack():
        # (b) CPU per event: 100 events per message, as the issue asks.
        small = _messages(2_000, 100, start)
        summary_b, cpu_b = _run_batches(small, per_call)
        out["cpu_us_per_event_100_per_message"] = round(cpu_b / 2_000 * 1e6, 1)
    return out


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            "(b) consumer CPU per event, 100 events/message (incl. moto in-process)",
            f"{r['cpu_us_per_event_100_per_message']} µs",
            "report",
            "-",
        ),
    ]
