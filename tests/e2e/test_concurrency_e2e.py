"""`make run`'s own stack under concurrent load: consumes for one tenant while another
streams events, over HTTP (gateway, authorizer, the limits and ingest functions, SQS, the
consumer's poller, moto).

The original report: 8 threads x 50 consumes for tenant X while tenant Y sent 20-event
batches every 50 ms; 6 consumes answered 500 and Y's usage counted 460 of 860 events,
because the stack's moto server ran concurrent TransactWriteItems without isolation."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.long(40)]  # ~40 s in CI: make test starts it first (tests/conftest.py)

THREADS, CONSUMES = 8, 50
LIMIT = 300  # X's hard monthly limit: 400 consumes get both 200s and 429s
BATCH, MAX_BATCHES, INTERVAL_S = 20, 43, 0.05  # Y: at most 860 events
COUNT_TIMEOUT_S = 60


def _setup(stack) -> dict:
    base, admin = stack.base_url, {"Authorization": f"Bearer {stack.admin_key}"}
    tag = uuid.uuid4().hex[:8]
    meter, plan, x, y = f"{tag}.calls", f"conc-{tag}", f"x-{tag}", f"y-{tag}"
    r = requests.put(
        f"{base}/v1/plans/{plan}",
        headers=admin,
        json={
            "name": "Concurrency",
            "limits": [{"meter": meter, "window": "month", "limit": LIMIT}],
            "api_rate_limit": {"per_second": 100000, "burst": 100000},
        },
    )
    assert r.status_code == 200, r.text
    r = requests.post(f"{base}/v1/meters", headers=admin, json={"key": meter, "name": meter, "aggregation": "count"})
    assert r.status_code == 201, r.text
    keys = {}
    for tenant in (x, y):
        r = requests.post(
            f"{base}/v1/tenants",
            headers=admin,
            json={"id": tenant, "name": tenant, "timezone": "Europe/Paris", "plan": plan},
        )
        assert r.status_code == 201, r.text
        r = requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tenant})
        assert r.status_code == 201, r.text
        keys[tenant] = {"Authorization": f"Bearer {r.json()['key']}"}
    return {"base": base, "admin": admin, "meter": meter, "x": x, "y": y, "keys": keys}


def _quota_used(w: dict, tenant: str) -> int:
    r = requests.get(f"{w['base']}/v1/quotas", headers=w["admin"], params={"tenant": tenant}, timeout=30)
    assert r.status_code == 200, r.text
    return next(q["used"] for q in r.json()["quotas"] if q["meter"] == w["meter"] and q["window"] == "month")


def _usage_total(w: dict, tenant: str) -> int:
    now = datetime.now(UTC)
    r = requests.get(
        f"{w['base']}/v1/usage",
        headers=w["admin"],
        timeout=30,
        params={
            "tenant": tenant,
            "meter": w["meter"],
            "window": "day",
            "from": (now - timedelta(days=2)).isoformat(),
            "to": (now + timedelta(days=2)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["total"]


def test_consumes_and_an_event_stream_at_once_lose_nothing(local_stack) -> None:
    w = _setup(local_stack)
    x_done = threading.Event()
    y_statuses: list[int] = []
    y_sent = 0

    def consume(thread: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.post(
                    f"{w['base']}/v1/consume",
                    headers=w["keys"][w["x"]],
                    timeout=60,
                    json={"id": f"x-{thread}-{i}", "meter": w["meter"]},
                ).status_code
                for i in range(CONSUMES)
            ]

    def stream() -> None:
        nonlocal y_sent
        with requests.Session() as session:
            for batch in range(MAX_BATCHES):
                if x_done.is_set() and batch:
                    break
                started = time.monotonic()
                events = [{"id": f"y-{batch}-{k}", "type": w["meter"], "data": {}} for k in range(BATCH)]
                r = session.post(f"{w['base']}/v1/events", headers=w["keys"][w["y"]], json=events, timeout=60)
                y_statuses.append(r.status_code)
                if r.status_code == 202:
                    y_sent += BATCH
                time.sleep(max(0.0, INTERVAL_S - (time.monotonic() - started)))

    streamer = threading.Thread(target=stream)
    streamer.start()
    with ThreadPoolExecutor(THREADS) as pool:
        x_statuses = Counter(s for statuses in pool.map(consume, range(THREADS)) for s in statuses)
    x_done.set()
    streamer.join(120)

    assert not streamer.is_alive()
    assert set(x_statuses) <= {200, 429}, x_statuses  # no 500, nothing else
    assert set(y_statuses) == {202}, Counter(y_statuses)
    assert sum(x_statuses.values()) == THREADS * CONSUMES
    assert y_sent >= 10 * BATCH, "the stream barely overlapped the consumes"
    assert _quota_used(w, w["x"]) == x_statuses[200]

    deadline, total = time.monotonic() + COUNT_TIMEOUT_S, None
    while time.monotonic() < deadline:
        total = _usage_total(w, w["y"])
        if total == y_sent:
            break
        time.sleep(0.25)
    time.sleep(1.5)  # past the consumer's batching window: nothing more arrives
    assert (total, _usage_total(w, w["y"])) == (y_sent, y_sent), f"Y sent {y_sent}"
    assert _quota_used(w, w["x"]) == x_statuses[200]
