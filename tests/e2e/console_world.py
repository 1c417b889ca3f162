"""A small world for the console's browser tests and screenshots, seeded through the public API
of a running local stack: a meter, a plan with a monthly limit, two tenants with usage this
month (one past 90 % of its limit, so it has alerts and is in ``warning``) and earlier in the
last 30 days, and a key for each tenant."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests

LIMIT = 100
BUSY_USE = 92  # this month: past the 0.5 and 0.8 thresholds of 100 (two alerts), and 90 % (warning)
QUIET_USE = 20
WAIT_S = 40


@dataclass(frozen=True)
class World:
    base: str
    admin_key: str
    tag: str
    meter: str
    plan: str
    busy: str  # tenant id, "Acme <tag>": 92 of 100 this month (warning)
    quiet: str  # tenant id, "Globex <tag>": 20 of 100 (healthy)
    busy_key: str
    quiet_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}


def _ok(response: requests.Response, *statuses: int) -> requests.Response:
    assert response.status_code in statuses, (response.status_code, response.text)
    return response


def _times(n: int, now: datetime, month_start: datetime, this_month: bool) -> list[datetime]:
    """``n`` instants spread over this month so far, or before it: 7 hours apart, closer late in
    a month, so the oldest stays within ingest's 35 days back (UTC)."""
    if this_month:
        span = max((now - month_start).total_seconds() - 60, 60)
        return [month_start + timedelta(seconds=30 + span * i / n) for i in range(n)]
    room = timedelta(days=34) - (now - month_start)
    step = min(timedelta(hours=7), room / (n + 1))
    return [month_start - timedelta(minutes=1) - step * i for i in range(n)]


def _send(base: str, ingest: dict[str, str], meter: str, tenant: str, times: list[datetime], prefix: str) -> None:
    events = [
        {
            "id": f"{prefix}-{i}",
            "type": meter,
            "subject": tenant,
            "time": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "data": {},
        }
        for i, t in enumerate(times)
    ]
    for chunk in range(0, len(events), 100):
        body = events[chunk : chunk + 100]
        r = _ok(requests.post(f"{base}/v1/events", headers=ingest, json=body, timeout=30), 202)
        assert r.json()["accepted"] == len(body), r.text


def seed(base: str, admin_key: str) -> World:
    admin = {"Authorization": f"Bearer {admin_key}"}
    tag = uuid.uuid4().hex[:6]
    meter, plan = f"calls{tag}", f"growth-{tag}"
    _ok(
        requests.post(
            f"{base}/v1/meters", headers=admin, json={"key": meter, "name": "API calls", "aggregation": "count"}
        ),
        201,
    )
    limit = {"meter": meter, "window": "month", "limit": LIMIT, "thresholds": [0.5, 0.8, 1.0], "enforcement": "soft"}
    _ok(requests.put(f"{base}/v1/plans/{plan}", headers=admin, json={"name": f"Growth {tag}", "limits": [limit]}), 200)
    ids = {}
    keys = {}
    for name in ("acme", "globex"):
        tid = f"{name}-{tag}"
        body = {"id": tid, "name": f"{name.capitalize()} {tag}", "timezone": "UTC", "plan": plan}
        _ok(requests.post(f"{base}/v1/tenants", headers=admin, json=body), 201)
        made = _ok(requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tid}), 201)
        ids[name], keys[name] = tid, made.json()["key"]
    ingest = {
        "Authorization": f"Bearer {_ok(requests.post(f'{base}/v1/keys', headers=admin, json={'scope': 'ingest'}), 201).json()['key']}"
    }
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for name, used, earlier in (("acme", BUSY_USE, 40), ("globex", QUIET_USE, 10)):
        _send(base, ingest, meter, ids[name], _times(used, now, month_start, True), f"{ids[name]}-now")
        _send(base, ingest, meter, ids[name], _times(earlier, now, month_start, False), f"{ids[name]}-before")
    world = World(base, admin_key, tag, meter, plan, ids["acme"], ids["globex"], keys["acme"], keys["globex"])
    _wait_counted(world)
    return world


def _wait_counted(w: World) -> None:
    """Until both tenants' usage is counted, the busy one's alerts are in and health is stored."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        used = {}
        for tid in (w.busy, w.quiet):
            quotas = requests.get(f"{w.base}/v1/quotas", headers=w.admin, params={"tenant": tid}, timeout=10).json()
            used[tid] = quotas["quotas"][0]["used"]
        alerts = requests.get(f"{w.base}/v1/notifications", headers=w.admin, params={"tenant": w.busy}, timeout=10)
        health = requests.get(f"{w.base}/v1/tenants/{w.busy}", headers=w.admin, timeout=10).json()["health"]
        if (
            used == {w.busy: BUSY_USE, w.quiet: QUIET_USE}
            and len(alerts.json()["items"]) >= 2
            and health["status"] == "warning"
        ):
            return
        time.sleep(0.3)
    raise AssertionError(f"the seeded usage was not counted within {WAIT_S} s: {used}, health {health}")


def rolled_up(w: World) -> None:
    """Fire the analytics roll-up (``tollgate local fire AnalyticsRollup``) until the world's
    usage is in GET /v1/analytics/usage: the overview's charts read roll-ups, refreshed every 10
    minutes on a schedule, and the stream marks a tenant active a moment after it counts it."""
    deadline = time.monotonic() + WAIT_S
    while True:
        fired = requests.post(f"{w.base}/_local/schedules/AnalyticsRollup/fire", headers=w.admin, timeout=60)
        assert fired.status_code == 200, fired.text
        usage = requests.get(f"{w.base}/v1/analytics/usage", headers=w.admin, params={"meter": w.meter}, timeout=10)
        if usage.json()["total"] != "0" or time.monotonic() > deadline:
            return
        time.sleep(0.5)
