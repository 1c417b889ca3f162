"""Section: one hot tenant at 100,000 events/s (Stripe's per-business ceiling for meter events).

DynamoDB takes at most 1,000 write units/s on one partition key. This section finds the
busiest item and partition key of one tenant's traffic and what it takes per second at
``RATE`` events/s, for 1,000-event and 1-event requests:

- measured: the real consumer (``Root().count_usage``) counts ``SAMPLE`` events of one tenant
  on moto in-process, through the path production takes: a 1,000-event request's message goes
  straight to the usage queue; 1-event requests go to the pack queue and are folded
  (``wire/repack.fold``, ``BatchSize`` sources a call, read from template.yaml) before the
  consumer takes ``BatchSize`` messages a call. ``tollgate_dev.cost.DynamoCost`` records the
  writes of every item and the write units of every partition key. A second at ``RATE`` is
  ``RATE / SAMPLE`` samples: counter items take one write per commit transaction and commits
  grow with the events, so the figure scales linearly (a wave of ~2,000 events commits once);
- the raw-event log's 8 shards: ``tollgate_dev.cost.hot_log_write_units`` at the measured
  chunk size, both on average and on the busiest shard in the worst second of 1,000.

One sum meter grouped by 4 regions, all events within one minute, tenant in Europe/Paris.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.consumer import _messages
from bench.cost_matrix import pipeline

ROOT = Path(__file__).resolve().parent.parent
RATE = 100_000
SAMPLE = 10_000
TARGET = 1_000  # write units/s on one partition key


def _usage_queue(messages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What reaches the usage queue: small messages folded by the repack stage."""
    from tollgate.domain.counting import decode_message
    from tollgate.wire.repack import counted_as_is, fold

    direct = [(m, b) for m, b in messages if counted_as_is(b.count('"id"'), len(b))]
    small = [(m, decode_message(b)) for m, b in messages if not counted_as_is(b.count('"id"'), len(b))]
    per_call = pipeline().repack_batch or len(small)
    for i in range(0, len(small), per_call):
        direct += [(str(uuid.uuid4()), f.body) for f in fold(small[i : i + per_call])]
    return direct


def _measure(per_request: int) -> dict[str, Any]:
    from tollgate.wiring import Root
    from tollgate_dev.cost import DynamoCost, hot_log_write_units

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    messages = _usage_queue(_messages(SAMPLE, per_request, start))
    root = Root()
    cost = DynamoCost().attach(root.dynamodb)
    per_call = pipeline().consumer_batch
    for i in range(0, len(messages), per_call):
        outcome = root.count_usage.count_messages(messages[i : i + per_call])
        assert not outcome.failed, outcome.failed
    scale = RATE / SAMPLE
    summary = cost.summary(events=SAMPLE)
    (_, item_pk, item_sk), item_writes = summary["hottest_item"]
    # A counter item is written inside transactions: 2 write units per write (items under 1 KB).
    counters = [(k, n) for k, n in cost.item_writes.items() if k[1].startswith(("T#", "G#"))]
    (_, counter_pk, counter_sk), counter_writes = max(counters, key=lambda kv: kv[1])
    logs = {pk: units for (_, pk), units in cost.partition_units.items() if pk.startswith("L#")}
    others = {pk: u for (_, pk), u in cost.partition_units.items() if not pk.startswith("L#")}
    busiest_other = max(others.items(), key=lambda kv: kv[1])
    log_bytes = sum(logs.values()) * 1024 / SAMPLE * 1000  # an upper bound: whole KB per chunk
    events_per_message = SAMPLE / len(messages)
    log = hot_log_write_units(RATE, log_bytes, events_per_message=max(1, round(events_per_message)))
    return {
        "messages_counted": len(messages),
        "hottest_counter_item": f"{counter_pk} {counter_sk}",
        "hottest_counter_item_wcu_per_s": round(counter_writes * 2 * scale),
        "busiest_non_log_partition": busiest_other[0],
        "busiest_non_log_partition_wcu_per_s": round(busiest_other[1] * scale),
        "log_wcu_per_s_unsharded": round(log.unsharded),
        "log_wcu_per_s_per_shard": round(log.per_shard),
        "log_wcu_per_s_busiest_shard_worst_second_in_1000": round(log.busiest_shard),
        "hottest_item_any": f"{item_pk} {item_sk} ({item_writes} writes per {SAMPLE} events)",
    }


def run() -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.conftest import moto_stack

    out: dict[str, Any] = {"events_per_second": RATE}
    for per_request in (1000, 1):
        with moto_stack():
            out[f"requests_of_{per_request}"] = _measure(per_request)
    return out


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for per_request in (1000, 1):
        c = r[f"requests_of_{per_request}"]
        worst = max(
            c["hottest_counter_item_wcu_per_s"],
            c["busiest_non_log_partition_wcu_per_s"],
            c["log_wcu_per_s_busiest_shard_worst_second_in_1000"],
        )
        out.append(
            (
                f"hot tenant {r['events_per_second']:,} events/s, {per_request}-event requests: busiest key, WCU/s",
                f"{worst} (counter item {c['hottest_counter_item_wcu_per_s']}, log shard "
                f"{c['log_wcu_per_s_per_shard']} avg / {c['log_wcu_per_s_busiest_shard_worst_second_in_1000']} "
                f"worst s, log unsharded {c['log_wcu_per_s_unsharded']})",
                f"<= {TARGET}",
                "yes" if worst <= TARGET else "NO",
            )
        )
    return out
