"""The monthly report end to end over HTTP on the running local stack: two tenants with
back-dated usage in the previous month (one over its monthly limit, priced above it), the
report in JSON and in CSV with their exact rows and neutralised names, a tenant key refused,
a month not yet ended in every zone refused naming the period, and the stack's own firing of
the monthly schedule writing both files, announced by one report.ready with their links."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e


def previous_month_noon() -> tuple[str, datetime]:
    first = datetime.now(UTC).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    last_day = first - timedelta(days=1)
    if datetime.now(UTC) < first:  # before noon UTC on the 1st: not ended in UTC-12 yet
        pytest.skip("the previous month has not ended in every zone yet")
    return last_day.strftime("%Y-%m"), last_day


def ok(r: requests.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def world(local_stack) -> dict[str, Any]:
    base = local_stack.base_url
    admin = {"Authorization": f"Bearer {local_stack.admin_key}"}
    tag = uuid.uuid4().hex[:8]
    meter, plan = f"{tag}.calls", f"rep-{tag}"
    ok(
        requests.post(f"{base}/v1/meters", headers=admin, json={"key": meter, "name": "Calls", "aggregation": "sum"}),
        201,
    )
    body = {
        "name": "Reported",
        "currency": "USD",
        "limits": [{"meter": meter, "window": "month", "limit": 1000, "enforcement": "soft"}],
        "charges": [{"meter": meter, "model": "per_unit", "unit_amount": "0.01", "free_units": "1000"}],
    }
    ok(requests.put(f"{base}/v1/plans/{plan}", headers=admin, json=body))
    tenants = {f"a-{tag}": '=HYPERLINK("http://x")', f"b-{tag}": "+1"}
    for tid, name in tenants.items():
        ok(requests.post(f"{base}/v1/tenants", headers=admin, json={"id": tid, "name": name, "plan": plan}), 201)
    tenant_key = ok(
        requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": f"a-{tag}"}), 201
    )
    ingest = ok(requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "ingest"}), 201)["key"]
    period, at = previous_month_noon()
    events = [
        {"id": f"{tid}-{i}", "type": meter, "subject": tid, "time": at.isoformat(), "data": {"value": v}}
        for tid, values in ((f"a-{tag}", [700, 500]), (f"b-{tag}", [300]))
        for i, v in enumerate(values)
    ]
    r = requests.post(f"{base}/v1/events", headers={"Authorization": f"Bearer {ingest}"}, json=events, timeout=30)
    assert r.status_code == 202 and r.json()["accepted"] == 3, r.text
    start = at.replace(day=1, hour=0)
    deadline = time.monotonic() + 30
    for tid, want in ((f"a-{tag}", 1200), (f"b-{tag}", 300)):
        while True:
            params = {"tenant": tid, "meter": meter, "window": "month", "from": start.isoformat(), "to": at.isoformat()}
            usage = requests.get(f"{base}/v1/usage", headers=admin, params=params, timeout=10).json()
            if usage.get("total") in (want, str(want)):
                break
            assert time.monotonic() < deadline, f"usage not counted: {usage}"
            time.sleep(0.5)
    return {
        "base": base,
        "admin": admin,
        "tag": tag,
        "meter": meter,
        "plan": plan,
        "period": period,
        "tenant": {"Authorization": f"Bearer {tenant_key['key']}"},
    }


def _meter(w: dict[str, Any], usage: str, percent: str, over: str, cost: str) -> list[dict[str, Any]]:
    return [
        {
            "meter": w["meter"],
            "usage": usage,
            "limit": "1000",
            "percent": percent,
            "overage_units": over,
            "overage_cost": cost,
            "currency": "USD",
        }
    ]


def test_the_report_has_each_tenants_month_and_the_summary(world):
    w = world
    url = f"{w['base']}/v1/reports/{w['period']}"
    r = requests.get(url, headers=w["admin"], params={"refresh": "true"}, timeout=60)
    report = ok(r)
    assert r.headers["Content-Type"].startswith("application/json")
    rows = {row["tenant"]: row for row in report["tenants"]}
    a, b = rows[f"a-{w['tag']}"], rows[f"b-{w['tag']}"]
    assert a == {
        "tenant": f"a-{w['tag']}",
        "name": '=HYPERLINK("http://x")',
        "plan": w["plan"],
        "timezone": "UTC",
        "health": "critical",
        "meters": _meter(w, "1200", "120.0", "200", "2.00"),
        "invoice": None,
    }
    assert (b["health"], b["meters"]) == ("healthy", _meter(w, "300", "30.0", "0", "0.00"))
    summary = report["summary"]
    assert summary["meters"][w["meter"]] == "1500" and summary["plans"][w["plan"]] == 2
    assert summary["tenants"] == len(report["tenants"]) and summary["tenants_with_overages"] >= 1
    assert report["period"] == w["period"] and report["timezone"] == "UTC"


def test_the_csv_has_a_row_per_tenant_and_meter_with_formulas_neutralised(world):
    w = world
    r = requests.get(f"{w['base']}/v1/reports/{w['period']}", headers=w["admin"], params={"format": "csv"}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv"), r.text
    table = list(csv.reader(io.StringIO(r.text, newline="")))
    head = table[0]
    ours = {row[1]: dict(zip(head, row, strict=True)) for row in table[1:] if row[1].endswith(w["tag"])}
    a, b = ours[f"a-{w['tag']}"], ours[f"b-{w['tag']}"]
    assert (a["name"], b["name"]) == ('\'=HYPERLINK("http://x")', "'+1")
    assert (a["meter"], a["usage"], a["overage_units"], a["overage_cost"], a["health"]) == (
        w["meter"],
        "1200",
        "200",
        "2.00",
        "critical",
    )


def test_a_tenant_key_is_refused_and_an_unended_month_names_the_period(world):
    w = world
    r = requests.get(f"{w['base']}/v1/reports/{w['period']}", headers=w["tenant"], timeout=30)
    assert r.status_code == 403 and r.headers["Content-Type"] == "application/problem+json"
    current = datetime.now(UTC).strftime("%Y-%m")
    r = requests.get(f"{w['base']}/v1/reports/{current}", headers=w["admin"], timeout=30)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["period"], r.text
    r = requests.get(f"{w['base']}/v1/reports/2026-13", headers=w["admin"], timeout=30)
    assert r.status_code == 422 and "period" in r.text


def test_firing_the_monthly_schedule_writes_both_files_and_announces_them(world):
    w = world
    fired = requests.post(f"{w['base']}/_local/schedules/MonthlyReport/fire", headers=w["admin"], timeout=120)
    assert fired.status_code == 200, fired.text
    found = ok(requests.get(f"{w['base']}/v1/notifications", headers=w["admin"], params={"type": "report.ready"}))
    ready = [n for n in found["items"] if n["period"] == w["period"]]
    assert len(ready) == 1 and ready[0]["tenant_id"] is None
    document = requests.get(ready[0]["links"]["json"], timeout=30)
    assert document.status_code == 200
    rows = {row["tenant"]: row for row in document.json()["tenants"]}
    assert rows[f"a-{w['tag']}"]["meters"] == _meter(w, "1200", "120.0", "200", "2.00")
    sheet = requests.get(ready[0]["links"]["csv"], timeout=30)
    assert sheet.status_code == 200 and f"a-{w['tag']}" in sheet.text and sheet.text.startswith("period,tenant,")
