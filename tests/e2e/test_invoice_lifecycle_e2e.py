"""The invoice lifecycle end to end over HTTP, on a local stack of its own started with
``--parameter-overrides InvoiceNetDays=0`` (an invoice is due when issued, so the daily job
has something to do today): issue, pay partially, pay the rest (a repeated reference records
nothing), void another (paying it then is a 409), fire the daily schedule and see a third
invoice turn overdue, with invoice.overdue and the first payment reminder arriving once each
at the tenant's http subscription; every move is in the audit trail; and the export, as CSV
and JSON through its presigned link, shows each invoice as it now is, a tenant named
``=HYPERLINK("http://x")`` as inert text."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from .conftest import LocalStackProcess, start_local_stack
from .test_subscriptions_e2e import Webhook

pytestmark = pytest.mark.e2e
NAMES = {"beta": '=HYPERLINK("http://x")'}  # a tenant name is attacker-controlled


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    process = start_local_stack(extra_args=("--parameter-overrides", "InvoiceNetDays=0"))
    try:
        yield process
    finally:
        process.stop()


def _ok(r: requests.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


@pytest.fixture(scope="module")
def issued(stack: LocalStackProcess) -> dict[str, Any]:
    """Three tenants on a 10 USD plan, last month invoiced and issued (due at once)."""
    base, admin = stack.base_url, {"Authorization": f"Bearer {stack.admin_key}"}
    _ok(requests.put(f"{base}/v1/plans/ten", headers=admin, json={"name": "Ten", "base_fee": "10.00"}))
    period = (datetime.now(ZoneInfo("UTC")).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    invoices, keys = {}, {}
    for name in ("acme", "beta", "gamma"):
        tenant = f"{name}-{uuid.uuid4().hex[:6]}"
        shown = NAMES.get(name, name)
        _ok(requests.post(f"{base}/v1/tenants", headers=admin, json={"id": tenant, "name": shown, "plan": "ten"}), 201)
        key = _ok(requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tenant}), 201)
        keys[name] = {"Authorization": f"Bearer {key['key']}"}
        run = _ok(
            requests.post(f"{base}/v1/invoice-runs", headers=admin, json={"period": period, "tenant": tenant}), 202
        )
        deadline = time.monotonic() + 30
        while _ok(requests.get(f"{base}/v1/invoice-runs/{run['id']}", headers=admin))["status"] != "done":
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(0.2)
        (draft,) = _ok(requests.get(f"{base}/v1/invoices", headers=admin, params={"tenant": tenant}))["items"]
        invoices[name] = _ok(requests.post(f"{base}/v1/invoices/{draft['id']}/finalize", headers=admin))
        invoices[name]["tenant"] = tenant
    return {"base": base, "admin": admin, "invoices": invoices, "keys": keys}


def test_pay_partially_then_the_rest_and_a_repeated_reference_records_nothing(issued):
    base, admin, inv = issued["base"], issued["admin"], issued["invoices"]["acme"]
    assert (inv["status"], inv["total"], inv["amount_due"]) == ("issued", "10.00", "10.00")
    url = f"{base}/v1/invoices/{inv['id']}/pay"
    part = _ok(requests.post(url, headers=admin, json={"amount": "4.00", "reference": "ch_1"}))
    assert (part["status"], part["amount_paid"], part["amount_due"]) == ("issued", "4.00", "6.00")
    again = _ok(requests.post(url, headers=admin, json={"amount": "4.00", "reference": "ch_1"}))
    assert again["amount_due"] == "6.00" and len(again["payments"]) == 1
    over = requests.post(url, headers=admin, json={"amount": "6.01", "reference": "ch_2"})
    assert over.status_code == 422 and over.json()["errors"][0]["field"] == "amount"
    paid = _ok(requests.post(url, headers=admin, json={"reference": "ch_3"}))
    assert (paid["status"], paid["amount_due"], paid["amount_paid"]) == ("paid", "0.00", "10.00")
    assert requests.post(url, headers=issued["keys"]["acme"], json={"amount": "1"}).status_code == 403
    trail = _ok(requests.get(f"{base}/v1/audit", headers=admin, params={"tenant": inv["tenant"]}))["items"]
    assert [e["action"] for e in trail].count("invoice.pay") == 2


def test_void_keeps_the_number_and_a_voided_invoice_cannot_be_paid(issued):
    base, admin, inv = issued["base"], issued["admin"], issued["invoices"]["beta"]
    voided = _ok(requests.post(f"{base}/v1/invoices/{inv['id']}/void", headers=admin, json={"reason": "duplicate"}))
    assert (voided["status"], voided["number"], voided["void_reason"]) == ("void", inv["number"], "duplicate")
    late = requests.post(f"{base}/v1/invoices/{inv['id']}/pay", headers=admin, json={"reference": "ch_9"})
    assert late.status_code == 409 and late.headers["Content-Type"] == "application/problem+json"
    assert requests.post(f"{base}/v1/invoices/{inv['id']}/void", headers=admin, json={}).status_code == 422


def test_the_daily_job_turns_an_unpaid_invoice_overdue_and_reminds_once(issued, stack):
    base, admin, inv = issued["base"], issued["admin"], issued["invoices"]["gamma"]
    hook = Webhook()
    try:
        body = {"protocol": "http", "endpoint": hook.url, "types": ["invoice.overdue", "invoice.reminder"]}
        _ok(requests.post(f"{base}/v1/tenants/{inv['tenant']}/subscriptions", headers=admin, json=body), 201)
        fire = f"{base}/_local/schedules/InvoiceDaily/fire"
        time.sleep(1.1)  # the schedule's time has whole seconds: let it pass the instant
        for _ in range(2):  # fired twice: each event still arrives once
            assert requests.post(fire, headers=admin, timeout=60).status_code == 200
        deadline = time.monotonic() + 20
        while len(hook.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything more would arrive now
        got = sorted((m["type"], m.get("offset_days")) for m in (json.loads(e["Message"]) for _, e in hook.received))
        assert got == [("invoice.overdue", None), ("invoice.reminder", -3)]
    finally:
        hook.server.shutdown()
        hook.server.server_close()
    now = _ok(requests.get(f"{base}/v1/invoices/{inv['id']}", headers=issued["keys"]["gamma"]))
    assert now["status"] == "overdue" and now["amount_due"] == "10.00"
    paid = issued["invoices"]["acme"]
    assert _ok(requests.get(f"{base}/v1/invoices/{paid['id']}", headers=admin))["status"] == "paid"  # not overdue


def test_the_export_shows_each_invoice_as_it_is_and_a_formula_name_as_text(issued):
    base, admin, invoices = issued["base"], issued["admin"], issued["invoices"]

    def export(**params: str) -> requests.Response:
        link = requests.get(f"{base}/v1/invoices/export", headers=admin, params=params, allow_redirects=False)
        assert link.status_code == 302, link.text
        got = requests.get(link.headers["Location"], timeout=10)  # the presigned URL: no API key
        assert got.status_code == 200
        return got

    mine = {inv["number"] for inv in invoices.values()}
    table = [r for r in csv.DictReader(io.StringIO(export(format="csv").text, newline="")) if r["number"] in mine]
    by_tenant = {r["tenant_id"]: r for r in table}
    acme, beta = by_tenant[invoices["acme"]["tenant"]], by_tenant[invoices["beta"]["tenant"]]
    assert (acme["status"], acme["paid"], acme["due"]) == ("paid", "10.00", "0.00")
    assert beta["status"] == "void" and beta["tenant_name"] == '\'=HYPERLINK("http://x")'
    assert by_tenant[invoices["gamma"]["tenant"]]["status"] == "overdue"
    lines = [r for r in json.loads(export(format="json", lines="true").text) if r["number"] in mine]
    assert {(r["number"], r["line_type"], r["amount"]) for r in lines} == {
        (inv["number"], "base_fee", "10.00") for inv in invoices.values()
    }
    refused = requests.get(f"{base}/v1/invoices/export", headers=admin, params={"format": "xlsx"})
    assert refused.status_code == 422
