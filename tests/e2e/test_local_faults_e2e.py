"""Fault injection on the running local stack (``/_local/faults``): the gateway's two phases and
moto's SQS failing, as a client sees them over HTTP, and the admin key guarding the endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStackProcess, recent_usage
from tests.e2e.local_faults import LocalFaults, injected
from tollgate.client import Tollgate

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(local_stack: LocalStackProcess) -> dict[str, str]:
    """A tenant, a sum meter and the tenant's key."""
    base, admin = local_stack.base_url, {"Authorization": f"Bearer {local_stack.admin_key}"}
    tid = f"flt-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base}/v1/tenants", headers=admin, json={"id": tid, "name": tid}, timeout=10).ok
    meter = f"{tid}.calls"
    spec = {"key": meter, "name": meter, "aggregation": "sum"}
    assert requests.post(f"{base}/v1/meters", headers=admin, json=spec, timeout=10).status_code == 201
    body = {"scope": "tenant", "tenant_id": tid}
    key = requests.post(f"{base}/v1/keys", headers=admin, json=body, timeout=10).json()["key"]
    return {"tenant": tid, "meter": meter, "key": key}


@pytest.fixture
def faults(local_stack: LocalStackProcess) -> Iterator[LocalFaults]:
    with injected(local_stack) as registry:
        yield registry


def _post(stack: LocalStackProcess, world: dict[str, str], ids: list[str]) -> requests.Response:
    events = [{"id": i, "type": world["meter"], "data": {"value": 1}} for i in ids]
    return requests.post(f"{stack.base_url}/v1/events", headers={"X-Api-Key": world["key"]}, json=events, timeout=30)


def _total(stack: LocalStackProcess, world: dict[str, str]) -> Any:
    return recent_usage(stack, world["tenant"], world["meter"])["total"]


def _wait_total(stack: LocalStackProcess, world: dict[str, str], expected: int, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while (total := _total(stack, world)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return total


def test_the_faults_endpoint_wants_the_admin_key(local_stack: LocalStackProcess, world: dict[str, str]) -> None:
    url = f"{local_stack.base_url}/_local/faults"
    spec = {"target": "gateway", "path": "/v1/events", "count": 1}
    assert requests.post(url, json=spec, timeout=10).status_code == 401
    assert requests.post(url, headers={"X-Api-Key": world["key"]}, json=spec, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": f"Bearer {world['key']}"}, timeout=10).status_code == 401
    assert requests.delete(url, headers={"X-Api-Key": world["key"]}, timeout=10).status_code == 401
    assert LocalFaults(local_stack).list() == []  # nothing was added


def test_a_bad_fault_is_a_422_naming_the_field(local_stack: LocalStackProcess, faults: LocalFaults) -> None:
    r = requests.post(faults.url, headers=faults.headers, json={"target": "gateway", "count": 1}, timeout=10)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path"


def test_gateway_503_before_then_passes(
    local_stack: LocalStackProcess, world: dict[str, str], faults: LocalFaults
) -> None:
    before = _total(local_stack, world)
    faults.add(target="gateway", path="/v1/events", method="POST", status=503, count=2)
    first, second = _post(local_stack, world, ["b1"]), _post(local_stack, world, ["b1"])
    for r in (first, second):
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.headers["Content-Type"] == "application/problem+json"
    assert faults.hits() == [2]
    third = _post(local_stack, world, ["b1"])
    assert third.status_code == 202 and third.json()["accepted"] == 1
    assert faults.list()[0]["active"] is False
    assert _wait_total(local_stack, world, before + 1) == before + 1


def test_gateway_503_after_processed_the_request(
    local_stack: LocalStackProcess, world: dict[str, str], faults: LocalFaults
) -> None:
    before = _total(local_stack, world)
    faults.add(target="gateway", path="/v1/events", status=503, count=1, phase="after")
    lost = _post(local_stack, world, ["a1", "a2"])
    assert lost.status_code == 503 and faults.hits() == [1]
    assert _wait_total(local_stack, world, before + 2) == before + 2  # counted, though the client saw 503
    retry = _post(local_stack, world, ["a1", "a2"])  # what a client does: the same ids again
    assert retry.status_code == 202 and retry.json()["accepted"] == 2
    time.sleep(2)  # the consumer has had time to count the retry, and must have dropped it
    assert _total(local_stack, world) == before + 2


def test_sqs_failing_makes_ingest_503_then_recovers(
    local_stack: LocalStackProcess, world: dict[str, str], faults: LocalFaults
) -> None:
    before = _total(local_stack, world)
    faults.add(target="sqs", action="SendMessageBatch", seconds=60)
    refused = _post(local_stack, world, ["s1", "s2"])
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"] == "/problems/service-unavailable" and refused.headers["Retry-After"]
    assert faults.hits()[0] >= 2  # the ingest function's own retries met the fault too
    faults.clear()
    again = _post(local_stack, world, ["s1", "s2"])
    assert again.status_code == 202 and again.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert _wait_total(local_stack, world, before + 2) == before + 2


def test_one_sqs_failure_is_absorbed_by_the_functions_retries(
    local_stack: LocalStackProcess, world: dict[str, str], faults: LocalFaults
) -> None:
    before = _total(local_stack, world)
    faults.add(target="sqs", action="SendMessageBatch", count=1)
    r = _post(local_stack, world, ["r1"])
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert faults.hits() == [1]
    assert _wait_total(local_stack, world, before + 1) == before + 1


def test_the_cli_adds_lists_and_clears_faults(local_stack: LocalStackProcess, faults: LocalFaults) -> None:
    def tollgate(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tollgate_dev.cli", "local", "fault", *args]
        command += ["--port", str(local_stack.port), "--key", local_stack.admin_key]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    added = tollgate("add", "gateway", "/v1/events", "--count", "2", "--phase", "after", "--status", "502")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["phase"] == "after"
    [listed] = faults.list()
    assert (listed["path"], listed["status"], listed["count"]) == ("/v1/events", 502, 2)
    bad = tollgate("add", "sqs", "SendMessageBatch")  # no bound
    assert bad.returncode == 1 and "count" in bad.stderr
    assert json.loads(tollgate("list").stdout)["faults"][0]["id"] == listed["id"]
    assert tollgate("clear").returncode == 0 and faults.list() == []


def test_a_refused_queue_gives_retryable_rejections(
    local_stack: LocalStackProcess, world: dict[str, str], faults: LocalFaults
) -> None:
    """A request's large message goes to the usage queue, its small one to the pack queue: with
    only the pack queue refusing, the answer is a 202 whose rejected events are retryable."""
    admin = {"Authorization": f"Bearer {local_stack.admin_key}"}
    other = f"{world['tenant']}-b"
    body = {"id": other, "name": other}
    assert requests.post(f"{local_stack.base_url}/v1/tenants", headers=admin, json=body, timeout=10).ok
    before = _total(local_stack, world)
    one = {"type": world["meter"], "data": {"value": 1}}
    events = [{**one, "id": f"big-{i}", "subject": world["tenant"]} for i in range(500)]
    events.append({**one, "id": "small-1", "subject": other})
    events.append({**one, "id": "bad", "subject": other, "time": "yesterday"})
    faults.add(target="sqs", action="SendMessageBatch", queue="packqueue", seconds=60)
    r = requests.post(f"{local_stack.base_url}/v1/events", headers=admin, json=events, timeout=60)
    assert r.status_code == 202, r.text[:500]
    assert r.json()["accepted"] == 500
    assert [(x["index"], x["id"], x["retryable"]) for x in r.json()["rejected"]] == [
        (500, "small-1", True),
        (501, "bad", False),
    ]
    assert faults.hits()[0] >= 1
    faults.clear()
    again = requests.post(f"{local_stack.base_url}/v1/events", headers=admin, json=events[500:501], timeout=30)
    assert again.status_code == 202 and again.json()["accepted"] == 1
    assert _wait_total(local_stack, world, before + 500) == before + 500


def test_a_consume_whose_answer_was_lost_counts_once(local_stack: LocalStackProcess, faults: LocalFaults) -> None:
    """The limits function records the consume, the gateway loses its answer (503 after), and the
    client resends the same id: the API replays the decision, so the hard limit of 3 still
    allows exactly 3 units."""
    base, admin = local_stack.base_url, {"Authorization": f"Bearer {local_stack.admin_key}"}
    tag = uuid.uuid4().hex[:8]
    meter, plan, tid = f"{tag}.calls", f"plan-{tag}", f"lost-{tag}"
    spec = {"key": meter, "name": meter, "aggregation": "count"}
    assert requests.post(f"{base}/v1/meters", headers=admin, json=spec, timeout=10).status_code == 201
    body = {"name": plan, "limits": [{"meter": meter, "window": "month", "limit": 3}]}
    assert requests.put(f"{base}/v1/plans/{plan}", headers=admin, json=body, timeout=10).status_code == 200
    body = {"id": tid, "name": tid, "plan": plan}
    assert requests.post(f"{base}/v1/tenants", headers=admin, json=body, timeout=10).status_code == 201
    key = requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tid}, timeout=10)
    faults.add(target="gateway", path="/v1/consume", status=503, phase="after", count=1)
    with Tollgate(base, key.json()["key"], retry_base=0.05, retry_cap=1.0) as client:
        first = client.consume(meter, 1)
        assert faults.hits() == [1]  # its first answer was lost
        assert first.allowed and first.replayed  # the retry found the recorded decision
        assert [client.consume(meter, 1).allowed for _ in range(3)] == [True, True, False]
