"""Cross-tenant analytics over HTTP against the running local stack: usage for three tenants
goes through ingest, the queue, the consumer and the counters' stream (which marks the pairs
active); the roll-up schedule is fired; GET /v1/analytics/usage and GET /v1/tenants?sort= then
answer exact figures from the roll-ups."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e


def _ok(r: requests.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def world(local_stack) -> dict[str, Any]:
    base, admin = local_stack.base_url, {"Authorization": f"Bearer {local_stack.admin_key}"}
    run = uuid.uuid4().hex[:8]
    meter, plan = f"an-{run}.calls", f"an-{run}-pro"
    _ok(requests.put(f"{base}/v1/plans/{plan}", headers=admin, json={"name": "Pro", "reason": "e2e"}))
    _ok(
        requests.post(f"{base}/v1/meters", headers=admin, json={"key": meter, "name": meter, "aggregation": "sum"}), 201
    )
    tenants = {f"an-{run}-a": (plan, "UTC"), f"an-{run}-b": (plan, "Pacific/Kiritimati"), f"an-{run}-c": (None, "UTC")}
    keys = {}
    for tid, (tenant_plan, zone) in tenants.items():
        body = {"id": tid, "name": tid, "timezone": zone, **({"plan": tenant_plan} if tenant_plan else {})}
        _ok(requests.post(f"{base}/v1/tenants", headers=admin, json=body), 201)
        keys[tid] = _ok(
            requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tid}), 201
        )["key"]
    return {"base": base, "admin": admin, "meter": meter, "plan": plan, "tenants": list(tenants), "keys": keys}


def _send(world: dict[str, Any], tenant: str, values: list[int]) -> None:
    now = datetime.now(UTC) - timedelta(seconds=5)
    events = [
        {"id": f"e{i}", "type": world["meter"], "time": now.isoformat(), "data": {"value": v}}
        for i, v in enumerate(values)
    ]
    r = requests.post(f"{world['base']}/v1/events", headers={"X-Api-Key": world["keys"][tenant]}, json=events)
    assert r.status_code == 202 and r.json()["accepted"] == len(values), r.text


def _analytics(world: dict[str, Any], **params: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    window = {"from": f"{today - timedelta(days=2)}T00:00:00Z", "to": f"{today + timedelta(days=1)}T00:00:00Z"}
    r = requests.get(
        f"{world['base']}/v1/analytics/usage",
        headers=world["admin"],
        params={"meter": world["meter"], **window, **params},
    )
    return _ok(r)


def test_rolled_up_usage_is_exact_across_tenants_by_plan_and_ranked(world):
    a, b, c = world["tenants"]
    _send(world, a, [5, 7])
    _send(world, b, [100])
    _send(world, c, [1, 1, 1])
    fire = f"{world['base']}/_local/schedules/AnalyticsRollup/fire"
    deadline = time.monotonic() + 30
    while True:  # the pairs are marked active by the stream path, a moment after they are counted
        result = _ok(requests.post(fire, headers=world["admin"], timeout=60))["result"]
        body = _analytics(world)
        if body["total"] == 115 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result["errors"] == 0
    assert body["total"] == 115 and body["timezone"] == "UTC" and "groups" not in body
    assert [p["value"] for p in body["series"]] == [0, 0, 115]
    assert body["series"][2]["start"] == f"{datetime.now(UTC).date()}T00:00:00Z"

    ranked = _analytics(world, group_by="tenant", limit=2)
    assert [(g["key"], g["total"]) for g in ranked["groups"]] == [(b, 100), (a, 12)]
    assert ranked["groups"][0]["series"][2]["value"] == 100
    by_plan = _analytics(world, group_by="plan")
    assert [(g["key"], g["total"]) for g in by_plan["groups"]] == [(world["plan"], 112)]
    assert _analytics(world, plan=world["plan"])["total"] == 112
    own = _analytics(world, tenant=b, interval="month")
    assert own["timezone"] == "Pacific/Kiritimati" and own["total"] == 100

    listed = _ok(
        requests.get(
            f"{world['base']}/v1/tenants",
            headers=world["admin"],
            params={"sort": f"usage:{world['meter']}", "limit": 2},
        )
    )
    assert [t["id"] for t in listed["items"]] == [b, a] and listed["next_cursor"]
    rest = _ok(
        requests.get(
            f"{world['base']}/v1/tenants",
            headers=world["admin"],
            params={"sort": f"usage:{world['meter']}", "limit": 2, "cursor": listed["next_cursor"]},
        )
    )
    assert [t["id"] for t in rest["items"]] == [c]


def test_a_tenant_key_gets_403_and_bad_input_names_the_field(world):
    tenant_key = {"X-Api-Key": world["keys"][world["tenants"][0]]}
    r = requests.get(f"{world['base']}/v1/analytics/usage", headers=tenant_key, params={"meter": world["meter"]})
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    bad = requests.get(
        f"{world['base']}/v1/analytics/usage",
        headers=world["admin"],
        params={"meter": world["meter"], "interval": "hour"},
    )
    assert bad.status_code == 422 and "interval" in bad.text
    sort = requests.get(f"{world['base']}/v1/tenants", headers=world["admin"], params={"sort": "usage:nope"})
    assert sort.status_code == 422 and "sort" in sort.text
