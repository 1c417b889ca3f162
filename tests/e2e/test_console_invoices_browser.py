"""An issued invoice in the tenant portal: the Invoices page lists it, and its download button
asks ``/v1/invoices/{id}/download?redirect=false`` (a page's fetch cannot read a 302 to another
origin) and offers the presigned link, which opens the invoice. Headless Chromium as in
``test_console_browser``."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.console_browser import browser, check_clean, new_page, sign_in  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _ok(r: requests.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


@pytest.fixture
def issued(local_stack) -> dict[str, Any]:
    """A tenant on a plan with a base fee, billed for the previous month and issued."""
    base, admin = local_stack.base_url, {"Authorization": f"Bearer {local_stack.admin_key}"}
    tag = uuid.uuid4().hex[:6]
    plan, tenant = f"fee-{tag}", f"billed-{tag}"
    _ok(
        requests.put(
            f"{base}/v1/plans/{plan}", headers=admin, json={"name": "Fee", "currency": "USD", "base_fee": "25"}
        )
    )
    _ok(requests.post(f"{base}/v1/tenants", headers=admin, json={"id": tenant, "name": tenant, "plan": plan}), 201)
    key = _ok(requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tenant}), 201)[
        "key"
    ]
    period = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    run = _ok(requests.post(f"{base}/v1/invoice-runs", headers=admin, json={"period": period, "tenant": tenant}), 202)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = _ok(requests.get(f"{base}/v1/invoice-runs/{run['id']}", headers=admin))
        if state["status"] == "done":
            break
        time.sleep(0.3)
    assert (state["status"], state["invoices"]) == ("done", 1), state
    (draft,) = _ok(requests.get(f"{base}/v1/invoices", headers=admin, params={"tenant": tenant}))["items"]
    invoice = _ok(requests.post(f"{base}/v1/invoices/{draft['id']}/finalize", headers=admin))
    return {"base": base, "admin_key": local_stack.admin_key, "tenant": tenant, "key": key, "invoice": invoice}


def test_the_portal_offers_the_invoice_link_and_it_opens_the_invoice(browser, issued):
    i = issued
    number, total = i["invoice"]["number"], i["invoice"]["total"]
    context, page, rec = new_page(browser, 1280)
    try:
        sign_in(page, i["base"], i["key"], "#/invoices")
        table = page.get_by_role("table", name="Invoices, newest first")
        table.wait_for()
        row = table.locator("tbody tr").first
        assert row.locator("th").text_content() == number and f"{total} USD" in row.text_content()
        row.get_by_role("button", name="HTML link").click()
        link = row.get_by_role("link", name="Open HTML")
        link.wait_for()
        href = link.get_attribute("href")
        assert not href.startswith(i["base"]) and i["key"] not in href  # the presigned S3 link, no key
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert page.evaluate("() => document.activeElement.textContent") == "Open HTML"  # focus moved to it
        document = requests.get(href, timeout=10)
        assert document.status_code == 200 and number in document.text
        asked = [u for u in rec.requests if "/download" in u]
        assert len(asked) == 1 and "redirect=false" in asked[0] and "format=html" in asked[0]
        # the page asked only its own origin; the document itself is opened by the reader's click
        check_clean(rec, i["base"], (i["key"],))
    finally:
        context.close()
