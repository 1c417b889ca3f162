"""Concurrent callers of the running local stack each get their own tenant's answers
(architecture review §3.6, issue 8).

8 tenants, a key each; 8 threads x 50 mixed calls, each thread with its own tenant's key:
``POST /v1/events`` (an event naming its own tenant: 202, one accepted, never "tenant not
found"), ``GET /v1/usage`` and ``GET /v1/quotas`` (the tenant implied by the key: the answer
must name the caller's tenant). No call may answer 401.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.long(35)]  # ~35 s in CI: make test starts it first (tests/conftest.py)

THREADS, CALLS = 8, 50


def _world(http, tag: str) -> tuple[str, dict[str, str]]:
    """A count meter, a plan that limits it, and 8 tenants on the plan; (meter, tenant -> key)."""
    meter, plan = f"{tag}.calls", f"iso-{tag}"
    limits = [{"meter": meter, "window": "month", "limit": 1_000_000}]
    rate = {"per_second": 10_000, "burst": 10_000}
    assert http.post("/v1/meters", json={"key": meter, "name": meter, "aggregation": "count"}).status_code == 201
    assert http.put(f"/v1/plans/{plan}", json={"name": plan, "limits": limits, "api_rate_limit": rate}).ok
    keys = {}
    for n in range(THREADS):
        tenant = f"iso-{tag}-{n}"
        assert http.post("/v1/tenants", json={"id": tenant, "name": tenant, "plan": plan}).status_code == 201
        created = http.post("/v1/keys", json={"scope": "tenant", "tenant_id": tenant})
        assert created.status_code == 201, created.text
        keys[tenant] = created.json()["key"]
    return meter, keys


def _outcome(what: str, r: requests.Response, tenant: str) -> str:
    if r.status_code == 401:
        return f"{what}: 401"
    body = r.json() if r.headers.get("Content-Type", "").endswith("json") else {}
    if what == "events":
        if r.status_code == 202 and body.get("accepted") == 1:
            return "events: own"
        return f"events: {r.status_code} {body.get('detail') or r.text[:80]}".replace(tenant, "<own tenant>")
    if r.status_code == 200:
        return f"{what}: own" if body.get("tenant") == tenant else f"{what}: another tenant's answer"
    return f"{what}: {r.status_code} {body.get('detail') or r.text[:80]}"


def _calls(base: str, meter: str, tenant: str, key: str) -> list[str]:
    """This tenant's 50 calls, each one's outcome: "<route>: own" when it answered for this tenant."""
    outcomes = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {key}"
        for i in range(CALLS):
            what = ("events", "usage", "quotas")[i % 3]
            if what == "events":
                event = {"id": uuid.uuid4().hex, "type": meter, "subject": tenant}
                r = session.post(f"{base}/v1/events", json=event, timeout=30)
            else:
                r = session.get(f"{base}/v1/{what}", params={"meter": meter} if what == "usage" else None, timeout=30)
            outcomes.append(_outcome(what, r, tenant))
    return outcomes


def test_concurrent_tenants_each_get_their_own_answers(local_stack, http) -> None:
    http.session.headers["Authorization"] = f"Bearer {local_stack.admin_key}"
    meter, keys = _world(http, uuid.uuid4().hex[:8])

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        runs = [pool.submit(_calls, local_stack.base_url, meter, tenant, key) for tenant, key in keys.items()]
        outcomes = Counter(o for run in runs for o in run.result())

    wrong = {o: n for o, n in outcomes.items() if not o.endswith(": own")}
    assert not wrong, f"{sum(wrong.values())} of {THREADS * CALLS} calls answered for another caller: {wrong}"
    assert sum(outcomes.values()) == THREADS * CALLS
