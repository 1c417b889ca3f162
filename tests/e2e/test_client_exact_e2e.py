"""Issue 14's exactness test: 20,000 events tracked from 8 threads through one ``Tollgate`` client
against the running local stack, while the stack fails on purpose (``/_local/faults``):

1. the gateway answers 503 without invoking anything, for a while;
2. then moto's SQS refuses SendMessageBatch for a while (the ingest function answers 503, or 202
   with retryable rejections, once its own retries are spent);
3. then the gateway throws away the answers of requests the ingest function did process (503
   after the fact): the client resends the same ids and the consumer must drop them.

The counter must end at exactly 20,000 and stay there: nothing lost, nothing doubled.

Time: sending takes ~10 s (the faults' windows plus retries); counting is the local consumer's
pace on moto, one DynamoDB request at a time: ~170 events/s on a loaded 2-core machine (about
2 minutes for 20,000), several times that on an idle one. ``COUNTED_DEADLINE_S`` allows for it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStackProcess
from tests.e2e.local_faults import LocalFaults, injected
from tollgate.client import Tollgate

pytestmark = pytest.mark.e2e

THREADS = 8
PER_THREAD = 2_500
ROUNDS = 25  # each thread tracks PER_THREAD / ROUNDS events, then pauses: traffic lasts the phases
PAUSE_S = 0.3
BEFORE_S = 1.5  # phase 1: gateway 503 before invoking
SQS_S = 2.0  # phase 2: SendMessageBatch fails
AFTER_COUNT = 3  # phase 3: answers lost after processing
CLOSE_TIMEOUT_S = 60.0
COUNTED_DEADLINE_S = 240.0


@pytest.fixture
def world(local_stack: LocalStackProcess) -> dict[str, str]:
    base, admin = local_stack.base_url, {"Authorization": f"Bearer {local_stack.admin_key}"}
    tid = f"exact-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base}/v1/tenants", headers=admin, json={"id": tid, "name": tid}, timeout=10).ok
    meter = f"{tid}.calls"
    spec = {"key": meter, "name": meter, "aggregation": "sum"}
    assert requests.post(f"{base}/v1/meters", headers=admin, json=spec, timeout=10).status_code == 201
    body = {"scope": "tenant", "tenant_id": tid}
    key = requests.post(f"{base}/v1/keys", headers=admin, json=body, timeout=10).json()["key"]
    return {"tenant": tid, "meter": meter, "key": key}


def _total(stack: LocalStackProcess, world: dict[str, str]) -> Any:
    now = datetime.now(UTC)
    params = {
        "tenant": world["tenant"],
        "meter": world["meter"],
        "window": "day",
        "from": (now - timedelta(days=2)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    r = requests.get(f"{stack.base_url}/v1/usage", headers=headers, params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["total"]


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _produce(client: Tollgate, meter: str, errors: list[BaseException]) -> None:
    try:
        for _ in range(ROUNDS):
            for _ in range(PER_THREAD // ROUNDS):
                client.track(meter, data={"value": 1})
            time.sleep(PAUSE_S)
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


def _run_faults(faults: LocalFaults) -> None:
    """Phases 2 and 3, each started when the previous one is over (phase 1 is already set)."""
    time.sleep(BEFORE_S)
    faults.add(target="sqs", action="SendMessageBatch", seconds=SQS_S)
    time.sleep(SQS_S)
    faults.add(target="gateway", path="/v1/events", method="POST", status=503, phase="after", count=AFTER_COUNT)
    _wait(lambda: faults.hits()[-1] >= AFTER_COUNT, 20)


def test_twenty_thousand_events_through_faults_are_counted_exactly(
    local_stack: LocalStackProcess, world: dict[str, str]
) -> None:
    client = Tollgate(
        local_stack.base_url,
        world["key"],
        flush_interval=0.25,
        retry_base=0.1,
        retry_cap=2.0,
        close_timeout=CLOSE_TIMEOUT_S,
    )
    errors: list[BaseException] = []
    started = time.monotonic()
    with injected(local_stack) as faults:
        faults.add(target="gateway", path="/v1/events", method="POST", status=503, seconds=BEFORE_S)
        producers = [threading.Thread(target=_produce, args=(client, world["meter"], errors)) for _ in range(THREADS)]
        for thread in producers:
            thread.start()
        _run_faults(faults)
        for thread in producers:
            thread.join(60)
        client.close()
        sent_s = time.monotonic() - started
        before, sqs, after = faults.list()
    assert errors == []
    assert (before["target"], sqs["target"], after["phase"]) == ("gateway", "sqs", "after")
    assert before["hits"] > 0 and sqs["hits"] > 0 and after["hits"] == AFTER_COUNT, (before, sqs, after)

    stats = client.stats
    assert stats.tracked == THREADS * PER_THREAD
    assert (stats.dropped, stats.rejected, stats.unsent, stats.pending) == (0, 0, 0, 0), stats
    assert stats.retries > 0, stats

    expected = THREADS * PER_THREAD
    assert _wait(lambda: _total(local_stack, world) == expected, COUNTED_DEADLINE_S), _total(local_stack, world)
    counted_s = time.monotonic() - started
    time.sleep(2)  # redeliveries and resent ids still in the queues would show up now
    assert _total(local_stack, world) == expected
    print(f"sent in {sent_s:.1f} s, counted in {counted_s:.1f} s; {stats}")
