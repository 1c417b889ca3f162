"""The repack stage under faults: whatever SQS call of the repack function fails, and however,
the folded messages it leaves on the usage queue (some of them twice) count every event
exactly once.

The sources are small messages of two tenants, with client retries (the same events in later
sources). Each fault breaks the k-th SQS call of the repack function: before it is sent
(connection error, the Lambda dying) or after SQS took it (the response is lost, so the
adapter sends it again; or the Lambda dies, so the sources come back and are folded again).
Then the consumer counts everything on the usage queue.
"""

from __future__ import annotations

import os

import boto3
import pytest

from tests.conftest import moto_stack
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.wire.usage_message import encode
from tollgate_dev.local.template import default_template, import_handler

from .test_consumer import consumer_handler, counter_state, expected_state, logged_events, root_of
from .test_consumer_faults import T0, Faults, deliver_until_acknowledged

METERS = {
    "calls": MeterSpec("calls", Aggregation.COUNT, group_by=("region",)),
    "bytes": MeterSpec("bytes", Aggregation.SUM),
}


def sources() -> list[tuple[str, UsageMessage]]:
    """24 small messages; every third repeats the events of the one before (a client retry)."""
    out: list[tuple[str, UsageMessage]] = []
    for i in range(24):
        tenant = ("acme", "beta")[i % 2]
        n = i - 2 if i % 3 == 2 else i
        events = [
            UsageEvent(
                f"e{n}-{j}", meter, format_time(T0), str(j + 1), dims={"region": "eu"} if meter == "calls" else {}
            )
            for j, meter in enumerate(("calls", "bytes")[: 1 + n % 2])
        ]
        out.append((f"src-{i}", UsageMessage(tenant, "Europe/Paris", METERS, events)))
    return out


def drain(queue_url: str) -> list[tuple[str, str]]:
    sqs = boto3.client("sqs")
    out = []
    while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        out += [(m["MessageId"], m["Body"]) for m in got]
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
    return out


def run(mode: str, k: int) -> tuple[int, bool, list[tuple[str, str]]]:
    """Repack the sources in 4 deliveries of 6 with the k-th SQS call broken; then count the
    usage queue. Returns (SQS calls the repack function made, whether the fault fired, the
    folded messages)."""
    repack = import_handler(default_template().functions()["RepackFunction"], fresh=True)
    faults = Faults(k, mode)
    detach = faults.attach(root_of(repack).sqs, "sqs")
    bodies = [(mid, encode(m)) for mid, m in sources()]
    try:
        for i in range(0, len(bodies), 6):
            deliver_until_acknowledged(repack, bodies[i : i + 6])
    finally:
        detach()
    folded = drain(os.environ["USAGE_QUEUE_URL"])
    deliver_until_acknowledged(consumer_handler(), folded)
    return faults.calls, faults.fired, folded


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # a crash before any metric
def test_every_failed_repack_call_still_counts_each_event_once():
    want = expected_state([m for _, m in sources()])
    distinct = sorted({(m.tenant, e.id) for _, m in sources() for e in m.events})
    with moto_stack():
        calls, _, folded = run("none", 0)
        dynamodb = boto3.client("dynamodb")
        assert counter_state(dynamodb) == want and logged_events(dynamodb) == distinct
        assert calls == 4 and len(folded) == 8  # each delivery: one folded message per tenant
    twice = 0
    for mode in ("connection", "lost", "crash", "crash-after"):
        for k in range(1, calls + 1):
            with moto_stack():
                _, fired, folded = run(mode, k)
                assert fired, (mode, k)
                dynamodb = boto3.client("dynamodb")
                assert counter_state(dynamodb) == want, (mode, k)
                assert logged_events(dynamodb) == distinct, (mode, k)
                twice += len(folded) - 8
    assert twice >= 2 * calls  # "lost" and "crash-after" queue a folded message twice, each time
