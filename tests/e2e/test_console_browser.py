"""The operator console and the tenant portal in a real headless Chromium (Playwright on
Debian's ``chromium``), against the running local stack, seeded through the API
(``console_world``), at 1280 and 390 px wide.

An operator signs in with the keyboard, sees the seeded tenants' health, alerts and quota bars,
filters the list, opens a tenant, raises a limit and sees its bar and label move, marks an alert
read, and signs out (session storage empty). A tenant key gets its own portal pages only. In
every test the key never appears in a requested URL, nothing is requested from another origin,
and the browser logs no error, CSP violations included.

The analytics and reports panels are asserted when this deployment has their routes
(GET /v1/analytics/usage, GET /v1/reports/{period}); without them the console must say they are
not available - and the 404 its request got is the only error the browser may log. Their
rendering is also checked now against the contracts' shapes, served to the page by Playwright.

Skipped without Chromium or Playwright, except in CI (``CI`` set), where that fails."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.console_browser import browser, check_clean, new_page, sign_in  # noqa: F401 - the fixture
from tests.e2e.console_world import BUSY_USE, LIMIT, QUIET_USE, World, rolled_up, seed

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WIDTHS = [1280, 390]
ANALYTICS, REPORTS = "/v1/analytics/usage", "/v1/reports/"


@pytest.fixture
def world(local_stack) -> World:
    """A fresh world per test: each test changes limits and marks alerts read."""
    return seed(local_stack.base_url, local_stack.admin_key)


def has_route(w: World, path: str, params: dict[str, str]) -> bool:
    """Whether this deployment serves ``path`` (a 404 naming no route means it does not)."""
    r = requests.get(f"{w.base}{path}", headers=w.admin, params=params, timeout=10)
    return not (r.status_code == 404 and "no route" in r.text)


def last_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"


def no_horizontal_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )


CHART = """scope => {
    const box = document.querySelector(`${scope} .chart`), canvas = box && box.querySelector('.uplot canvas');
    if (!canvas || !canvas.width) return null;
    const copy = document.createElement('canvas');  // read from a copy in memory: the page's
    copy.width = canvas.width; copy.height = canvas.height;  // own canvas is not meant for readback
    const context = copy.getContext('2d', {willReadFrequently: true});
    context.drawImage(canvas, 0, 0);
    const pixels = context.getImageData(0, 0, copy.width, copy.height).data;
    let bars = 0;  // pixels in the console's accent colour (--accent, #0b5cad): the bars
    for (let i = 0; i < pixels.length; i += 4) bars += pixels[i] === 11 && pixels[i + 1] === 92 && pixels[i + 2] === 173;
    return {box: box.getBoundingClientRect().width, canvas: canvas.getBoundingClientRect().width,
            height: canvas.getBoundingClientRect().height, hidden: box.getAttribute('aria-hidden'), bars};
}"""


def drawn_chart(page: Any, scope: str) -> dict[str, Any]:
    """The uPlot chart under ``scope``, once drawn (after its box is laid out): its canvas
    fills the box's width, is hidden from screen readers (the table is their alternative) and
    has bars painted on it."""
    page.wait_for_function(
        "s => { const c = document.querySelector(`${s} .chart .uplot canvas`); return c && c.width > 0 }", arg=scope
    )
    chart: dict[str, Any] = page.evaluate(CHART, scope)
    assert chart["box"] - 1 <= chart["canvas"] <= chart["box"] and chart["height"] > 0, chart
    assert chart["hidden"] == "true", chart
    return chart


def chart_table(page: Any, scope: str) -> list[list[str]]:
    """The chart's data table (start, value) as the screen reader reads it."""
    rows = page.locator(f"{scope} figure details table tbody tr")
    return [r.locator("th, td").all_text_contents() for r in rows.all()]


def quota_label(page: Any, scope: str, w: World) -> Any:
    return page.locator(f"{scope} .quota[data-meter='{w.meter}'] .quota-label")


def fill_width(page: Any, scope: str, w: World) -> float:
    return page.evaluate(
        """([scope, meter]) => {
            const quota = document.querySelector(`${scope} .quota[data-meter='${meter}']`);
            return quota.querySelector('.fill').getBoundingClientRect().width / quota.querySelector('.bar').getBoundingClientRect().width;
        }""",
        [scope, w.meter],
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_an_operator_sees_filters_opens_a_tenant_and_changes_a_limit(browser, world, width):
    w = world
    analytics = has_route(w, ANALYTICS, {"meter": w.meter})
    if analytics:
        rolled_up(w)
    context, page, rec = new_page(browser, width)
    try:
        # keyboard: the skip link is the first thing to tab to, and it moves focus to the content
        page.goto(f"{w.base}/dashboard")
        assert page.evaluate("document.querySelector('a, button, input, select') === document.querySelector('a.skip')")
        # the overview charts the meters its hash names (the shared stack holds other tests' meters)
        sign_in(page, w.base, w.admin_key)
        page.goto(f"{w.base}/dashboard#/overview?meters={w.meter}")  # the same page: a hash change
        page.get_by_role("heading", name="Overview", level=1).wait_for()
        assert page.evaluate("sessionStorage.getItem('tollgate.key')") == w.admin_key
        assert page.evaluate("document.cookie") == "" and page.evaluate("localStorage.length") == 0

        # overview: health cards count the seeded tenants; the busy one's alerts are listed
        warning = page.locator(".card[data-status='warning'] .card-count")
        warning.wait_for()
        assert int(warning.text_content()) >= 1
        alerts = page.get_by_role("table", name="The 10 latest alerts")
        alerts.get_by_role("link", name=w.busy).first.wait_for()
        if analytics:  # GET /v1/analytics/usage is merged: a chart per meter, with its text alternative
            trend = page.locator(f".trend[data-meter='{w.meter}']")
            trend.wait_for()
            assert "total" in trend.locator("figcaption").text_content()
            assert drawn_chart(page, f".trend[data-meter='{w.meter}']")["bars"] > 0  # the seeded usage
            table = chart_table(page, f".trend[data-meter='{w.meter}']")
            assert len(table) >= 1 and sum(float(v.replace(",", "")) for _, v in table) == float(
                trend.locator("h3").text_content().rsplit("total ", 1)[1].replace(",", "")
            )
        else:
            page.get_by_text("Analytics are not available on this deployment.").wait_for()
        no_horizontal_scroll(page)

        # tenants: filter by the seeded plan; both tenants, with their health and quota bars
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Tenants").click()
        page.get_by_role("heading", name="Tenants", level=1).wait_for()
        page.get_by_label("Plan", exact=True).select_option(w.plan)
        page.get_by_role("button", name="Apply").click()
        rows = page.locator("table.tenants tbody tr")
        page.wait_for_function("() => document.querySelectorAll('table.tenants tbody tr').length === 2")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.tenant)")) == sorted([w.busy, w.quiet])
        busy_row = page.locator(f"tr[data-tenant='{w.busy}']")
        assert busy_row.locator(".badge").first.text_content() == "warning"
        busy_label = quota_label(page, f"tr[data-tenant='{w.busy}']", w)
        busy_label.wait_for()
        assert f"{BUSY_USE} of {LIMIT} ({BUSY_USE}.0 %), warning" in busy_label.text_content()
        assert (
            f"{QUIET_USE} of {LIMIT} ({QUIET_USE}.0 %), healthy"
            in quota_label(page, f"tr[data-tenant='{w.quiet}']", w).text_content()
        )
        page.get_by_label("Health", exact=True).select_option("warning")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_function("() => document.querySelectorAll('table.tenants tbody tr').length === 1")
        assert rows.first.get_attribute("data-tenant") == w.busy
        no_horizontal_scroll(page)
        # search (q=, a prefix of the id or name, any case) alone finds the other one
        page.get_by_label("Health", exact=True).select_option("")
        page.get_by_label("Plan", exact=True).select_option("")
        page.get_by_label("Search (id or name)").fill(f"GLOBEX-{w.tag}")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_function(
            "id => [...document.querySelectorAll('table.tenants tbody tr')].map(r => r.dataset.tenant).join() === id",
            arg=w.quiet,
        )
        page.get_by_label("Search (id or name)").fill("")
        page.get_by_label("Plan", exact=True).select_option(w.plan)
        page.get_by_role("button", name="Apply").click()
        page.wait_for_function("() => document.querySelectorAll('table.tenants tbody tr').length === 2")

        # the tenant: its quota bar, then a higher limit moves the bar and its label
        busy_row.get_by_role("link").first.click()
        page.get_by_role("heading", name=f"Acme {w.tag}", level=1).wait_for()
        label = quota_label(page, ".tenant-quotas", w)
        label.wait_for()
        assert label.text_content().endswith(f"{BUSY_USE} of {LIMIT} ({BUSY_USE}.0 %), warning")
        drawn_chart(page, "section")  # the usage per day of the first meter, last 30 days
        assert len(chart_table(page, "section")) == 30  # every day, with or without usage
        usage = page.get_by_role("region", name="Usage")
        usage.get_by_label("Meter", exact=True).select_option(w.meter)  # the first may be another test's
        usage.get_by_role("button", name="Show").click()
        page.locator("section figcaption", has_text=f"{w.meter} per day: 30 points").wait_for()
        days_total = sum(float(v.replace(",", "")) for _, v in chart_table(page, "section"))
        assert days_total > 0  # the seeded usage this month
        usage.get_by_label("Window", exact=True).select_option("month")
        usage.get_by_role("button", name="Show").click()
        page.wait_for_function(
            "() => { const n = document.querySelectorAll('section figure tbody tr').length; return n >= 1 && n <= 2; }"
        )
        months = chart_table(page, "section")  # the same 30 days by month (1 or 2 of them), redrawn
        assert len({start[:7] for start, _ in months}) == len(months)
        assert sum(float(v.replace(",", "")) for _, v in months) == days_total
        assert drawn_chart(page, "section")["bars"] > 0
        no_horizontal_scroll(page)
        before = fill_width(page, ".tenant-quotas", w)
        assert before == pytest.approx(BUSY_USE / LIMIT, abs=0.02)
        page.get_by_label(f"Limit of {w.meter} per month").fill("400")
        page.get_by_label("Reason (kept in the audit trail)").fill("browser test: a bigger contract")
        page.get_by_role("button", name="Save limits").click()
        page.wait_for_function(
            "([meter]) => (document.querySelector(`.tenant-quotas .quota[data-meter='${meter}'] .quota-label`) || {}).textContent?.includes('of 400')",
            arg=[w.meter],
        )
        assert label.text_content().endswith(f"{BUSY_USE} of 400 ({BUSY_USE / 4:.1f} %), healthy")
        assert fill_width(page, ".tenant-quotas", w) == pytest.approx(BUSY_USE / 400, abs=0.02)
        assert (
            page.locator(f".tenant-quotas .quota[data-meter='{w.meter}']").get_attribute("class")
            == "quota status-healthy"
        )
        limits = requests.get(f"{w.base}/v1/tenants/{w.busy}/limits", headers=w.admin, timeout=10).json()
        assert [(o["limit"], o["window"]) for o in limits["overrides"]] == [(400, "month")]

        # an alert marked read
        unread = page.get_by_role("button", name="Mark read")
        unread.first.wait_for()
        count = unread.count()
        unread.first.click()
        page.wait_for_function(
            "n => [...document.querySelectorAll('button')].filter(b => b.textContent === 'Mark read').length === n",
            arg=count - 1,
        )
        left = requests.get(
            f"{w.base}/v1/notifications/unread-count", headers=w.admin, params={"tenant": w.busy}, timeout=10
        )
        assert left.json()["unread"] == count - 1

        # a plan change, with its reason: the heading and the audit trail show it
        plan_form = page.get_by_role("region", name="Plan")
        plan_form.get_by_role("combobox", name="Plan").select_option("enterprise")
        plan_form.get_by_label("Reason", exact=True).fill("browser test: moved up")
        plan_form.get_by_role("button", name="Change plan").click()
        page.get_by_text("Plan is now enterprise.").wait_for()
        page.get_by_text(f"{w.busy} · plan enterprise ·").wait_for()
        tenant = requests.get(f"{w.base}/v1/tenants/{w.busy}", headers=w.admin, timeout=10).json()
        assert tenant["plan"] == "enterprise"

        # sign out: the key leaves session storage, the sign-in form is back
        page.get_by_role("button", name="Sign out").click()
        page.locator("#signin-key").wait_for(state="visible")
        assert page.evaluate("sessionStorage.length") == 0
        page.reload()
        page.locator("#signin-key").wait_for(state="visible")
        assert page.locator("#view").evaluate("v => v.children.length") == 0
        check_clean(rec, w.base, (w.admin_key,), () if analytics else (ANALYTICS,))
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tenant_portal_shows_only_its_own_tenant(browser, world, width):
    w = world
    context, page, rec = new_page(browser, width)
    try:
        sign_in(page, w.base, w.busy_key)
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Usage").wait_for()
        assert nav.get_by_role("link").all_text_contents() == ["Usage", "Quotas", "Notifications", "Invoices"]
        assert page.locator("#who").text_content() == f"Tenant {w.busy}"

        # usage this month: the chart's text alternative names the tenant's own total
        month_start = datetime.now(UTC).strftime("%Y-%m-01")
        page.get_by_label("Meter", exact=True).select_option(w.meter)
        page.get_by_label("From", exact=True).fill(month_start)
        page.get_by_label("To (inclusive)", exact=True).fill(datetime.now(UTC).strftime("%Y-%m-%d"))
        page.get_by_role("button", name="Show").click()
        page.get_by_text(f"Total {BUSY_USE} (count, zone UTC)").wait_for()
        assert f"total {BUSY_USE}" in page.locator("figcaption").text_content()
        assert drawn_chart(page, "section")["bars"] > 0
        assert sum(int(v) for _, v in chart_table(page, "section")) == BUSY_USE

        nav.get_by_role("link", name="Quotas").click()
        label = quota_label(page, ".tenant-quotas", w)
        label.wait_for()
        assert label.text_content().endswith(f"{BUSY_USE} of {LIMIT} ({BUSY_USE}.0 %), warning")
        nav.get_by_role("link", name="Notifications").click()
        page.get_by_role("table", name="Alerts, newest first").wait_for()
        nav.get_by_role("link", name="Invoices").click()
        page.get_by_text("No invoices.").wait_for()
        no_horizontal_scroll(page)

        # the operator's pages and another tenant's do not exist here ...
        for route in ("#/overview", "#/tenants", f"#/tenants/{w.quiet}", "#/reports"):
            page.evaluate("route => { window.location.hash = route; }", route)
            page.get_by_role("heading", name="Not found", level=1).wait_for()
            assert w.quiet not in page.locator("main").text_content()
        # ... and the API refuses the key for another tenant's data, as if it did not exist
        status = page.evaluate(
            """tenant => fetch(`/v1/quotas?tenant=${tenant}`, {headers: {Authorization: `Bearer ${sessionStorage.getItem('tollgate.key')}`}}).then(r => r.status)""",
            w.quiet,
        )
        assert status == 404

        page.get_by_role("button", name="Sign out").click()
        assert page.evaluate("sessionStorage.length") == 0
        check_clean(rec, w.base, (w.busy_key,), ("/v1/quotas",))
    finally:
        context.close()


def test_reports_show_a_month_or_say_they_are_not_available(browser, world):
    w = world
    period = last_month()
    reports = has_route(w, f"{REPORTS}{period}", {"format": "json"})
    analytics = has_route(w, ANALYTICS, {"meter": w.meter})  # the overview, shown first, asks for it
    context, page, rec = new_page(browser, 1280)
    try:
        sign_in(page, w.base, w.admin_key)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
        page.get_by_role("heading", name="Reports", level=1).wait_for()
        if reports:  # GET /v1/reports/{period} is merged: the summary and the tenants' table, and CSV
            page.get_by_role("table", name=f"Summary of {period}").wait_for()
            # the stored report may predate this test's tenants (another test asked for the
            # month first): regenerate it, as an operator would after late usage
            first = page.locator(".generated").text_content()
            page.get_by_role("button", name="Regenerate").click()
            page.wait_for_function("t => document.querySelector('.generated').textContent !== t", arg=first)
            # the seeded tenants' usage before this month (40 and 10 events) is last month's
            table = page.get_by_role("table", name=f"Tenants in {period}")
            table.wait_for()
            busy = table.locator("tbody tr", has=page.get_by_role("rowheader", name=f"Acme {w.tag}", exact=True))
            assert busy.locator("td").all_text_contents()[:5] == [w.plan, "healthy", w.meter, "40", "100"]
            with page.expect_download() as download:
                page.get_by_role("button", name="Download CSV").click()
            path = download.value.path()
            assert download.value.suggested_filename == f"tollgate-report-{period}.csv"
            header = Path(path).read_text(encoding="utf-8").splitlines()[0].lower()
            assert "tenant" in header and "meter" in header, header  # the header row
        else:
            page.get_by_text("Reports are not available on this deployment.").wait_for()
        missing = (() if reports else (REPORTS,)) + (() if analytics else (ANALYTICS,))
        check_clean(rec, w.base, (w.admin_key,), missing)
    finally:
        context.close()


def _contract_usage(meter: str) -> dict[str, Any]:
    """GET /v1/analytics/usage as its contract (issue 13) shapes it: three days of a meter."""
    days = [("2026-11-01", 10), ("2026-11-02", 0), ("2026-11-03", 32)]
    series = [{"start": f"{d}T00:00:00Z", "end": f"{d}T23:59:59Z", "value": v} for d, v in days]
    return {
        "meter": meter,
        "interval": "day",
        "timezone": "UTC",
        "from": "2026-11-01T00:00:00Z",
        "to": "2026-11-04T00:00:00Z",
        "total": 42,
        "series": series,
    }


def _contract_report(period: str, tenant: str) -> dict[str, Any]:
    """GET /v1/reports/{period} as its contract shapes it: one tenant, one meter over its limit."""
    meter = {
        "meter": "api_calls",
        "usage": "1200",
        "limit": "1000",
        "percent": "120.0",
        "overage_units": "200",
        "overage_cost": "2.00",
        "currency": "USD",
    }
    invoice = {"id": "inv_1", "number": "TG-000007", "total": "31.00", "currency": "USD", "status": "issued"}
    return {
        "period": period,
        "timezone": "UTC",
        "generated_at": "2026-12-01T00:00:00Z",
        "summary": {
            "meters": {"api_calls": "1200"},
            "plans": {"basic": 1},
            "tenants": 1,
            "tenants_with_overages": 1,
            "revenue": {"USD": "31.00"},
        },
        "tenants": [
            {
                "tenant": tenant,
                "name": "Acme <b>",
                "plan": "basic",
                "health": "critical",
                "meters": [meter],
                "invoice": invoice,
            }
        ],
    }


def test_the_analytics_and_report_panels_render_their_contracts(browser, world):
    """The panels against the contracts' shapes, served to the page by Playwright (the routes
    are another part of issue 13): a chart with its text alternative, and the report's tables,
    with markup in a name shown as text. The answers are slow (a few frames each) and there are
    two meters at least, so the overview's first chart is built frames before it is attached:
    every chart must still be drawn."""
    w = world
    period = last_month()
    second = {"key": f"{w.meter}b", "name": "Second meter", "aggregation": "count"}
    assert requests.post(f"{w.base}/v1/meters", headers=w.admin, json=second, timeout=10).status_code == 201

    def slow_usage(route: Any) -> None:
        time.sleep(0.2)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(_contract_usage(w.meter)))

    context, page, rec = new_page(browser, 1280)
    try:
        page.route("**/v1/analytics/usage?*", slow_usage)
        page.route(
            f"**/v1/reports/{period}?*",
            lambda route: route.fulfill(
                status=200, content_type="application/json", body=json.dumps(_contract_report(period, w.busy))
            ),
        )
        sign_in(page, w.base, w.admin_key, f"#/overview?meters={w.meter}")
        # a second chart, added with the overview's form (keyboard: pick the meter, submit)
        picker = page.get_by_role("form", name="Chart another meter")
        picker.get_by_label("Meter").select_option(second["key"])
        picker.get_by_role("button", name="Add chart").click()
        page.locator(f".trend[data-meter='{second['key']}']").wait_for()
        trend = page.locator(f".trend[data-meter='{w.meter}']")
        trend.wait_for()
        assert "total 42" in trend.locator("h3").text_content()
        caption = trend.locator("figcaption").text_content()
        assert "3 points from 2026-11-01 to 2026-11-03, total 42, peak 32" in caption
        meters = page.locator(".trend").evaluate_all("ts => ts.map(t => t.dataset.meter)")
        assert meters == [w.meter, second["key"]]  # the hash's meters, in the meters list's order
        for meter in meters:
            assert drawn_chart(page, f".trend[data-meter='{meter}']")["bars"] > 0, meter
        scope = f".trend[data-meter='{w.meter}']"
        wide = drawn_chart(page, scope)
        assert wide["bars"] > 0
        assert chart_table(page, scope) == [["2026-11-01", "10"], ["2026-11-02", "0"], ["2026-11-03", "32"]]
        # narrower window, narrower chart: it follows its box (one column of trends at 390 px)
        page.set_viewport_size({"width": 390, "height": 900})
        page.wait_for_function(
            "([s, w]) => document.querySelector(`${s} .chart .uplot canvas`).getBoundingClientRect().width < w",
            arg=[scope, wide["canvas"] - 100],
        )
        narrow = drawn_chart(page, scope)
        assert narrow["bars"] > 0
        no_horizontal_scroll(page)
        page.set_viewport_size({"width": 1280, "height": 900})

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
        summary = page.get_by_role("table", name=f"Summary of {period}")
        summary.wait_for()
        assert "Revenue (USD) 31.00" in " ".join(summary.locator("tr").all_inner_texts()).replace("\t", " ")
        table = page.get_by_role("table", name=f"Tenants in {period}")
        cells = table.locator("tbody tr").first.locator("th, td").all_text_contents()
        assert cells == [
            "Acme <b>",
            "basic",
            "critical",
            "api_calls",
            "1,200",
            "1,000",
            "120.0 %",
            "200",
            "2.00 USD",
            "TG-000007 31.00 USD",
        ]
        assert table.locator("b").count() == 0  # the name is text, not markup
        check_clean(rec, w.base, (w.admin_key,))
    finally:
        context.close()
