"""Alerts end to end over HTTP on the running local stack: usage sent to POST /v1/events is
counted, the counters table's stream feeds the alerts function, and each crossing reaches the
tenant's webhook once, lands in GET /v1/notifications within 10 s, and moves tenant health.

Day windows in Europe/Paris. Thresholds 0.5, 0.8 and 1.0 of 10 are crossed one by one today,
then all at once (and over) by back-dated events in yesterday's window."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from .test_subscriptions_e2e import Webhook

pytestmark = pytest.mark.e2e
LATENCY_S = 10.0


@pytest.fixture(scope="module")
def world(local_stack) -> dict[str, Any]:
    base = local_stack.base_url
    admin = {"Authorization": f"Bearer {local_stack.admin_key}"}
    tag = uuid.uuid4().hex[:8]
    meter, plan = f"{tag}.calls", f"alerts-{tag}"
    limit = {"meter": meter, "window": "day", "limit": 10, "thresholds": [0.5, 0.8, 1.0], "enforcement": "soft"}
    assert (
        requests.put(f"{base}/v1/plans/{plan}", headers=admin, json={"name": "A", "limits": [limit]}).status_code == 200
    )
    r = requests.post(f"{base}/v1/meters", headers=admin, json={"key": meter, "name": meter, "aggregation": "count"})
    assert r.status_code == 201, r.text
    tenants = {name: f"{name}-{tag}" for name in ("acme", "globex")}
    keys = {}
    for tid in tenants.values():
        body = {"id": tid, "name": tid, "timezone": "Europe/Paris", "plan": plan}
        assert requests.post(f"{base}/v1/tenants", headers=admin, json=body).status_code == 201
        key = requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tid}).json()["key"]
        keys[tid] = {"Authorization": f"Bearer {key}"}
    ingest = requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "ingest"}).json()["key"]
    return {
        "base": base,
        "admin": admin,
        "meter": meter,
        "plan": plan,
        "acme": tenants["acme"],
        "globex": tenants["globex"],
        "keys": keys,
        "ingest": {"Authorization": f"Bearer {ingest}"},
        "sent": Counter(),
    }


def send(w: dict[str, Any], tenant: str, n: int, at: datetime | None = None) -> None:
    time_ = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    events = [
        {"id": f"{tenant}-{w['sent'][tenant] + i}", "type": w["meter"], "subject": tenant, "time": time_, "data": {}}
        for i in range(n)
    ]
    w["sent"][tenant] += n
    r = requests.post(f"{w['base']}/v1/events", headers=w["ingest"], json=events, timeout=30)
    assert r.status_code == 202 and r.json()["accepted"] == n, r.text


def notifications(w: dict[str, Any], tenant: str, **params: Any) -> list[dict[str, Any]]:
    r = requests.get(f"{w['base']}/v1/notifications", headers=w["keys"][tenant], params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def wait_for(w: dict[str, Any], tenant: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + LATENCY_S + 20  # counting (the pipeline's seconds), then the alert's 10
    while time.monotonic() < deadline:
        items = notifications(w, tenant)
        if len(items) >= count:
            return items
        time.sleep(0.2)
    pytest.fail(f"{tenant}: {len(notifications(w, tenant))} notifications, not {count}")


def usage_counted(w: dict[str, Any], tenant: str, total: int) -> float:
    """When GET /v1/quotas first shows ``total`` for today."""
    while True:
        r = requests.get(f"{w['base']}/v1/quotas", headers=w["keys"][tenant])
        if r.json()["quotas"][0]["used"] >= total:
            return time.monotonic()
        time.sleep(0.1)


def test_crossings_reach_the_webhook_and_notifications_once_each_and_only_their_tenant(world):
    w = world
    hook = Webhook()
    try:
        r = requests.post(
            f"{w['base']}/v1/tenants/{w['acme']}/subscriptions",
            headers=w["keys"][w["acme"]],
            json={"protocol": "http", "endpoint": hook.url},
        )
        assert r.status_code == 201, r.text
        # One by one, today: 5 (0.5), 8 (0.8), 10 (1.0).
        for total, n in ((5, 5), (8, 3), (10, 2)):
            send(w, w["acme"], n)
            counted = usage_counted(w, w["acme"], total)
            items = wait_for(w, w["acme"], {5: 1, 8: 2, 10: 3}[total])
            assert time.monotonic() - counted <= LATENCY_S
        assert [(i["type"], i["thresholds"], i["used"]) for i in reversed(items)] == [
            ("usage.threshold_reached", [0.5], 5),
            ("usage.threshold_reached", [0.8], 8),
            ("usage.threshold_reached", [1], 10),
        ]
        # All at once, in yesterday's window (back-dated): every threshold and the overage.
        yesterday = datetime.now(UTC) - timedelta(days=1)
        send(w, w["acme"], 12, yesterday)
        items = wait_for(w, w["acme"], 7)
        older = [i for i in items if i["window_start"] != items[-1]["window_start"]]
        assert sorted((i["type"], tuple(i["thresholds"])) for i in older) == [
            ("billing.over_limit", ()),
            ("usage.threshold_reached", (0.5,)),
            ("usage.threshold_reached", (0.8,)),
            ("usage.threshold_reached", (1,)),
        ]
        over = next(i for i in older if i["type"] == "billing.over_limit")
        assert (over["used"], over["overage"], over["severity"]) == (12, 2, "critical")
        # Another tenant's crossing never reaches acme's webhook or list.
        send(w, w["globex"], 6)
        assert [i["tenant_id"] for i in wait_for(w, w["globex"], 1)] == [w["globex"]]
        deadline = time.monotonic() + 5
        while len(hook.received) < 7 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # anything more, duplicated or foreign, would arrive by now
        assert sorted(hook.ids()) == sorted(i["id"] for i in notifications(w, w["acme"]))
        assert len(hook.received) == 7 and len(notifications(w, w["acme"])) == 7
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def test_notifications_read_state_and_isolation(world):
    w = world
    acme, globex = w["acme"], w["globex"]
    send(w, acme, 5) if not notifications(w, acme) else None
    items = wait_for(w, acme, 1)
    first = items[0]["id"]
    unread = requests.get(f"{w['base']}/v1/notifications/unread-count", headers=w["keys"][acme]).json()["unread"]
    assert unread == len(items)
    assert requests.post(f"{w['base']}/v1/notifications/{first}/read", headers=w["keys"][globex]).status_code == 404
    read = requests.post(f"{w['base']}/v1/notifications/{first}/read", headers=w["keys"][acme])
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = requests.post(f"{w['base']}/v1/notifications/{first}/read", headers=w["keys"][acme]).json()
    assert again["read_at"] == read.json()["read_at"]
    after = requests.get(f"{w['base']}/v1/notifications/unread-count", headers=w["keys"][acme]).json()["unread"]
    assert after == unread - 1
    assert first not in [i["id"] for i in notifications(w, acme, unread="true")]
    r = requests.get(f"{w['base']}/v1/notifications", headers=w["keys"][globex], params={"tenant": acme})
    assert r.status_code == 404
    admin = requests.get(f"{w['base']}/v1/notifications", headers=w["admin"], params={"tenant": acme, "limit": 100})
    assert {i["id"] for i in admin.json()["items"]} == {i["id"] for i in notifications(w, acme)}


def test_health_follows_usage_and_filters_combine(world):
    w = world
    acme = w["acme"]
    if w["sent"][acme] < 10:
        send(w, acme, 11 - w["sent"][acme])
    deadline = time.monotonic() + LATENCY_S + 20
    while time.monotonic() < deadline:
        health = requests.get(f"{w['base']}/v1/tenants/{acme}", headers=w["admin"]).json()["health"]
        if health["status"] == "critical":
            break
        time.sleep(0.2)
    assert health["status"] == "critical" and health["updated_at"] is not None
    params = {"health_status": "critical", "plan": w["plan"], "limit": 100}
    listed = requests.get(f"{w['base']}/v1/tenants", headers=w["admin"], params=params).json()["items"]
    assert acme in [t["id"] for t in listed]
    overages = requests.get(
        f"{w['base']}/v1/tenants", headers=w["admin"], params={**params, "has_overages": "true"}
    ).json()["items"]
    assert (acme in [t["id"] for t in overages]) == health["has_overages"]
    bad = requests.get(f"{w['base']}/v1/tenants", headers=w["admin"], params={"health_status": "sick"})
    assert bad.status_code == 422 and "health_status" in bad.text
