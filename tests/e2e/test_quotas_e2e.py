"""Plans, overrides, audit, quotas, consume and API rate limits over HTTP against the running
local stack (API Gateway emulation, authorizer, the API and limits functions, SQS and the
consumer for the events that /v1/quotas counts alongside consumes)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.structured_fields import parse_list
from tollgate.services.catalog import CONFIG_TTL_S

pytestmark = pytest.mark.e2e


def _admin(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_key}"}


@pytest.fixture(scope="module")
def world(local_stack):
    """A plan with a hard monthly limit of 10, a tenant on it, a neighbour, and their keys."""
    base, admin = local_stack.base_url, _admin(local_stack)
    tag = uuid.uuid4().hex[:8]
    meter, plan, tid, other = f"{tag}.calls", f"plan-{tag}", f"q-{tag}", f"n-{tag}"
    body = {
        "name": "E2E",
        "limits": [
            {"meter": meter, "window": "month", "limit": 10},
            {"meter": meter, "window": "minute", "limit": 8, "enforcement": "soft"},
        ],
        "api_rate_limit": {"per_second": 2, "burst": 30},
    }
    assert requests.put(f"{base}/v1/plans/{plan}", headers=admin, json=body).status_code == 200
    r = requests.post(f"{base}/v1/meters", headers=admin, json={"key": meter, "name": meter, "aggregation": "count"})
    assert r.status_code == 201, r.text
    for t, p in ((tid, plan), (other, None)):
        r = requests.post(
            f"{base}/v1/tenants",
            headers=admin,
            json={"id": t, "name": t, "timezone": "Europe/Paris", **({"plan": p} if p else {})},
        )
        assert r.status_code == 201, r.text
    keys = {
        t: requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": t}).json()["key"]
        for t in (tid, other)
    }
    return {
        "base": base,
        "admin": admin,
        "meter": meter,
        "plan": plan,
        "tenant": tid,
        "other": other,
        "key": {"Authorization": f"Bearer {keys[tid]}"},
        "other_key": {"X-Api-Key": keys[other]},
    }


def _quota(w, window="month"):
    r = requests.get(f"{w['base']}/v1/quotas", headers=w["admin"], params={"tenant": w["tenant"]})
    assert r.status_code == 200, r.text
    return next(q for q in r.json()["quotas"] if q["window"] == window)


def test_the_default_catalog_is_seeded(local_stack):
    r = requests.get(f"{local_stack.base_url}/v1/plans", headers=_admin(local_stack), params={"limit": 100})
    assert r.status_code == 200
    plans = {p["id"]: p for p in r.json()["items"]}
    monthly = {
        pid: next(
            lim["limit"] for lim in plans[pid]["limits"] if (lim["meter"], lim["window"]) == ("api_calls", "month")
        )
        for pid in ("free", "basic", "premium", "enterprise")
    }
    assert monthly == {"free": 10_000, "basic": 50_000, "premium": 200_000, "enterprise": 1_000_000}
    storage = {
        pid: next(lim["limit"] for lim in plans[pid]["limits"] if lim["meter"] == "storage_gb")
        for pid in ("free", "basic", "premium", "enterprise")
    }
    assert storage == {"free": 1, "basic": 10, "premium": 50, "enterprise": 200}


def test_events_and_consumes_share_counters_and_dedupe(world):
    base, meter = world["base"], world["meter"]
    # The soft minute limit is checked below: start early in a minute, so that the events and
    # the consumes fall in the same one even on a slow machine.
    if (second := datetime.now(UTC).second) > 30:
        time.sleep(61 - second)
    # two events through ingest -> SQS -> consumer
    events = [{"id": f"ev-{i}", "type": meter, "data": {}} for i in range(2)]
    assert requests.post(f"{base}/v1/events", headers=world["key"], json=events).status_code == 202
    deadline = time.monotonic() + 10
    while _quota(world)["used"] != 2:
        assert time.monotonic() < deadline, "the events were not counted"
        time.sleep(0.1)
    # an event id consumed again counts nothing and is "allowed", as ingest admitted it
    r = requests.post(f"{base}/v1/consume", headers=world["key"], json={"id": "ev-0", "meter": meter})
    assert r.status_code == 200 and r.json()["replayed"] is True
    assert _quota(world)["used"] == 2

    statuses = [
        requests.post(f"{base}/v1/consume", headers=world["key"], json={"id": f"c-{i}", "meter": meter})
        for i in range(9)
    ]
    assert [s.status_code for s in statuses] == [200] * 8 + [429]
    allowed, denied = statuses[7], statuses[8]
    month = next(x for x in allowed.json()["limits"] if x["window"] == "month")
    assert (month["used"], month["remaining"]) == (10, 0)
    assert denied.headers["Content-Type"] == "application/json"
    assert denied.json()["allowed"] is False and denied.json()["reason"] == "quota_exceeded"
    assert int(denied.headers["Retry-After"]) > 0
    policy = dict(parse_list(denied.headers["RateLimit-Policy"]))
    current = dict(parse_list(denied.headers["RateLimit"]))
    assert policy[f"{meter}.month"]["q"] == 10 and policy[f"{meter}.minute"] == {"q": 8, "w": 60}
    assert current[f"{meter}.month"]["r"] == 0
    assert current[f"{meter}.month"]["t"] == int(denied.headers["Retry-After"])
    # the soft minute limit (8) was overshot by the 10th unit: admitted and flagged
    minute = next(x for x in allowed.json()["limits"] if x["window"] == "minute")
    assert minute["exceeded"] is True and minute["enforcement"] == "soft"
    # a consumed id sent as an event later is not counted again
    assert (
        requests.post(
            f"{base}/v1/events", headers=world["key"], json={"id": "c-0", "type": meter, "data": {}}
        ).status_code
        == 202
    )
    time.sleep(1.5)
    q = _quota(world)
    assert (q["used"], q["status"], q["percent"]) == (10, "critical", 100.0)
    resets = datetime.fromisoformat(q["resets_at"])
    assert resets.utcoffset() is not None and resets.day == 1 and resets.hour == 0


def test_check_only_and_validation(world):
    base, meter = world["base"], world["meter"]
    r = requests.post(f"{base}/v1/consume", headers=world["other_key"], json={"meter": meter, "amount": 0})
    assert r.status_code == 200 and r.json()["limits"] == []
    for body, field in (
        ({"id": "x", "meter": meter, "amount": -1}, "amount"),
        ({"id": "x", "meter": meter, "amount": 0.5}, "amount"),
        ({"meter": meter}, "id"),
    ):
        r = requests.post(f"{base}/v1/consume", headers=world["key"], json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    r = requests.post(
        f"{base}/v1/consume",
        headers={**world["key"], "Content-Type": "application/json"},
        data=f'{{"id": "n", "meter": "{meter}", "amount": NaN}}',
    )
    assert r.status_code == 422
    assert (
        requests.post(f"{base}/v1/consume", headers=world["key"], json={"id": "x", "meter": "nope"}).status_code == 404
    )


def test_overrides_plan_changes_and_the_audit_trail(world):
    base, admin, tid, meter = world["base"], world["admin"], world["tenant"], world["meter"]
    r = requests.patch(f"{base}/v1/tenants/{tid}", headers=admin, json={"plan": world["plan"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = requests.patch(f"{base}/v1/tenants/{tid}", headers=admin, json={"plan": "no-such-plan", "reason": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "plan"

    body = {"limits": [{"meter": meter, "window": "month", "limit": 12}], "reason": "goodwill"}
    r = requests.put(f"{base}/v1/tenants/{tid}/limits", headers=admin, json=body)
    assert r.status_code == 200, r.text
    assert {(e["window"], e["limit"], e["source"]) for e in r.json()["effective"]} == {
        ("minute", 8, "plan"),
        ("month", 12, "override"),
    }
    # The limits function has its own execution environment and catalog: the override reaches it
    # within the catalog's TTL (as on AWS), seen here through a check-only consume.
    deadline = time.monotonic() + CONFIG_TTL_S + 3
    while True:
        check = requests.post(f"{base}/v1/consume", headers=world["key"], json={"meter": meter, "amount": 0}).json()
        if {(lim["window"], lim["limit"]) for lim in check["limits"]} >= {("month", 12)}:
            break
        assert time.monotonic() < deadline, f"the override did not reach consume within the TTL: {check}"
        time.sleep(0.5)
    assert (
        requests.post(
            f"{base}/v1/consume", headers=world["key"], json={"id": "after-override", "meter": meter, "amount": 2}
        ).status_code
        == 200
    )

    trail = requests.get(f"{base}/v1/audit", headers=world["key"], params={"limit": 1})
    assert trail.status_code == 200
    newest = trail.json()["items"][0]
    assert (newest["action"], newest["reason"], newest["after"][0]["limit"]) == ("tenant.limits", "goodwill", 12)
    assert newest["actor"].startswith("key_") and trail.json()["next_cursor"]
    page2 = requests.get(
        f"{base}/v1/audit", headers=world["key"], params={"limit": 1, "cursor": trail.json()["next_cursor"]}
    ).json()["items"]
    assert page2[0]["action"] == "tenant.create"


def test_a_noisy_tenant_does_not_slow_its_neighbour(world):
    """The tenant's plan allows 2 requests/s, burst 30: hammering it gets 429s; the neighbour
    (default limit) is unaffected."""
    base = world["base"]
    noisy = [requests.get(f"{base}/v1/tenants/{world['tenant']}", headers=world["key"]) for _ in range(60)]
    limited = [r for r in noisy if r.status_code == 429]
    assert limited, "never rate limited"
    problem = limited[0]
    assert problem.headers["Content-Type"] == "application/problem+json"
    assert problem.json()["type"] == "/problems/rate-limited" and int(problem.headers["Retry-After"]) >= 1
    assert dict(parse_list(problem.headers["RateLimit-Policy"]))["api"] == {"q": 30, "w": 15}
    consumes = [
        requests.post(f"{base}/v1/consume", headers=world["key"], json={"id": "rl", "meter": world["meter"]})
        for _ in range(5)
    ]
    assert "rate_limited" in [c.json()["reason"] for c in consumes if c.status_code == 429]
    calm = [
        requests.get(f"{base}/v1/tenants/{world['other']}", headers=world["other_key"]).status_code for _ in range(30)
    ]
    assert calm == [200] * 30
