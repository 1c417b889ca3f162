"""Invoices end to end over HTTP on the running local stack: a priced plan (a base fee and
per-model prices), back-dated usage in the previous month, the upcoming preview, an invoice
run for that month (fanned out over the stack's invoice queue), finalize, and the HTML
downloaded through its presigned URL holding the number and the total. A tenant key cannot
read another tenant's invoice; a second run leaves one invoice; invoice.ready is a
notification."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

pytestmark = pytest.mark.e2e
PARIS = ZoneInfo("Europe/Paris")


def previous_month_noon() -> tuple[str, datetime]:
    """The previous month in Paris and its last day at noon: within ingest's 35 days back."""
    first = datetime.now(PARIS).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    last_day = first - timedelta(days=1)
    return last_day.strftime("%Y-%m"), last_day


@pytest.fixture(scope="module")
def billed(local_stack) -> dict[str, Any]:
    base = local_stack.base_url
    admin = {"Authorization": f"Bearer {local_stack.admin_key}"}
    tag = uuid.uuid4().hex[:8]
    meter, plan = f"{tag}.tokens", f"priced-{tag}"

    def ok(r: requests.Response, status: int = 200) -> dict[str, Any]:
        assert r.status_code == status, r.text
        return r.json() if r.content else {}

    ok(
        requests.post(
            f"{base}/v1/meters",
            headers=admin,
            json={"key": meter, "name": "Tokens", "aggregation": "sum", "group_by": ["model"]},
        ),
        201,
    )
    charges = [
        {"meter": meter, "model": "per_unit", "unit_amount": "0.01", "filter": {"model": "gpt-4o"}},
        {"meter": meter, "model": "per_unit", "unit_amount": "0.001"},
    ]
    ok(
        requests.put(
            f"{base}/v1/plans/{plan}",
            headers=admin,
            json={"name": "Priced", "currency": "EUR", "base_fee": "10", "charges": charges},
        )
    )
    ok(
        requests.put(
            f"{base}/v1/tax-rates/fr-{tag}", headers=admin, json={"name": "TVA", "percent": 20, "country": "FR"}
        )
    )
    tenants = {name: f"{name}-{tag}" for name in ("acme", "globex")}
    keys = {}
    for tid in tenants.values():
        body = {
            "id": tid,
            "name": f"{tid} <SAS>",
            "timezone": "Europe/Paris",
            "plan": plan,
            "currency": "EUR",
            "billing_address": {"line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"},
        }
        ok(requests.post(f"{base}/v1/tenants", headers=admin, json=body), 201)
        key = ok(requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tid}), 201)
        keys[tid] = {"Authorization": f"Bearer {key['key']}"}
    ingest = ok(requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "ingest"}), 201)["key"]
    period, at = previous_month_noon()
    acme = tenants["acme"]
    events = [
        {"id": f"e{i}", "type": meter, "subject": acme, "time": at.isoformat(), "data": {"value": 100, "model": m}}
        for i, m in enumerate(["gpt-4o"] * 3 + ["mini"] * 2)
    ]
    r = requests.post(f"{base}/v1/events", headers={"Authorization": f"Bearer {ingest}"}, json=events, timeout=30)
    assert r.status_code == 202 and r.json()["accepted"] == 5, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # counted: the month total is 500
        start = at.replace(day=1, hour=0)
        usage = requests.get(
            f"{base}/v1/usage",
            headers=admin,
            params={"tenant": acme, "meter": meter, "window": "month", "from": start.isoformat(), "to": at.isoformat()},
        ).json()
        if usage.get("total") in (500, "500"):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"usage not counted: {usage}")
    return {"base": base, "admin": admin, "acme": acme, "globex": tenants["globex"], "keys": keys, "period": period}


def test_the_upcoming_preview_prices_the_current_period(billed):
    b = billed
    r = requests.get(f"{b['base']}/v1/tenants/{b['acme']}/upcoming-invoice", headers=b["keys"][b["acme"]])
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["status"] == "upcoming" and preview["number"] is None
    assert preview["lines"][0] == {**preview["lines"][0], "type": "base_fee", "amount": "10.00"}
    assert preview["taxes"] == [{"name": "TVA", "percent": "20", "amount": "2.00"}] and preview["total"] == "12.00"


def test_a_run_then_finalize_issues_a_numbered_invoice_whose_html_downloads(billed):
    b = billed
    run = requests.post(
        f"{b['base']}/v1/invoice-runs", headers=b["admin"], json={"period": b["period"], "tenant": b["acme"]}
    )
    assert run.status_code == 202, run.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = requests.get(f"{b['base']}/v1/invoice-runs/{run.json()['id']}", headers=b["admin"]).json()
        if state["status"] == "done":
            break
        time.sleep(0.3)
    assert (state["status"], state["expected"], state["invoices"], state["failed"]) == ("done", 1, 1, 0), state
    listed = requests.get(f"{b['base']}/v1/invoices", headers=b["admin"], params={"tenant": b["acme"]}).json()
    (draft,) = listed["items"]
    assert draft["status"] == "draft" and draft["number"] is None
    # base fee 10 + 300 gpt-4o tokens at 0.01 + 200 others at 0.001 = 13.20, then 20 % TVA
    assert [line["amount"] for line in draft["lines"]] == ["10.00", "3.00", "0.20"]
    assert (draft["subtotal"], draft["tax_total"], draft["total"]) == ("13.20", "2.64", "15.84")

    issued = requests.post(f"{b['base']}/v1/invoices/{draft['id']}/finalize", headers=b["admin"])
    assert issued.status_code == 200, issued.text
    number = issued.json()["number"]
    assert issued.json()["status"] == "issued" and number and issued.json()["total"] == "15.84"

    link = requests.get(
        f"{b['base']}/v1/invoices/{draft['id']}/download",
        headers=b["keys"][b["acme"]],
        params={"format": "html"},
        allow_redirects=False,
    )
    assert link.status_code == 302, link.text
    page = requests.get(link.headers["Location"], timeout=10)  # the presigned URL: no API key
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert number in page.text and "15.84" in page.text
    assert f"{b['acme']} &lt;SAS&gt;" in page.text  # the tenant's name is text, never markup
    # redirect=false: the same link as JSON with a 200, for the console (a page's fetch cannot read a 302 elsewhere)
    named = requests.get(
        f"{b['base']}/v1/invoices/{draft['id']}/download",
        headers=b["keys"][b["acme"]],
        params={"format": "html", "redirect": "false"},
        allow_redirects=False,
    )
    assert named.status_code == 200 and "Location" not in named.headers, named.text
    assert number in requests.get(named.json()["url"], timeout=10).text

    notes = requests.get(
        f"{b['base']}/v1/notifications", headers=b["keys"][b["acme"]], params={"type": "invoice.ready"}
    ).json()["items"]
    assert [n["number"] for n in notes] == [number]

    again = requests.post(
        f"{b['base']}/v1/invoice-runs", headers=b["admin"], json={"period": b["period"], "tenant": b["acme"]}
    )
    assert again.status_code == 202
    time.sleep(1)
    listed = requests.get(f"{b['base']}/v1/invoices", headers=b["admin"], params={"tenant": b["acme"]}).json()
    assert [i["number"] for i in listed["items"]] == [number]


def test_a_tenant_key_cannot_read_another_tenant_s_invoice_and_periods_must_have_ended(billed):
    b = billed
    mine = requests.get(f"{b['base']}/v1/invoices", headers=b["keys"][b["acme"]]).json()["items"]
    assert mine, "the run test issues acme's invoice first"
    other = b["keys"][b["globex"]]
    for path in (f"/v1/invoices/{mine[0]['id']}", f"/v1/invoices/{mine[0]['id']}/download"):
        r = requests.get(f"{b['base']}{path}", headers=other, allow_redirects=False)
        assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
    assert requests.get(f"{b['base']}/v1/invoices", headers=other).json()["items"] == []
    this_month = datetime.now(UTC).strftime("%Y-%m")
    r = requests.post(f"{b['base']}/v1/invoice-runs", headers=b["admin"], json={"period": this_month})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period"
    r = requests.post(f"{b['base']}/v1/invoice-runs", headers=b["keys"][b["acme"]], json={"period": b["period"]})
    assert r.status_code == 403
