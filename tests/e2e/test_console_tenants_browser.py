"""The console's tenants page when its answers come back out of order: the list the operator
asked for last is the one shown. The first (unfiltered) list is held back by Playwright until
the filtered one is drawn, then let through; it used to replace the filtered list (a flaky
failure of test_console_browser.py under load, where the first list was simply slow)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.e2e.console_browser import browser, check_clean, new_page, sign_in  # noqa: F401 - the fixture
from tests.e2e.console_world import World, seed

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ROWS = "rs => rs.map(r => r.dataset.tenant)"


@pytest.fixture
def world(local_stack) -> World:
    w = seed(local_stack.base_url, local_stack.admin_key)
    # a tenant on no plan, so the unfiltered list always differs from the filtered one
    other = {"id": f"other-{w.tag}", "name": f"Other {w.tag}", "timezone": "UTC"}
    assert requests.post(f"{w.base}/v1/tenants", headers=w.admin, json=other, timeout=10).status_code == 201
    return w


def test_a_late_answer_to_an_earlier_list_does_not_replace_the_filtered_one(browser, world):
    w = world
    held: list[Any] = []

    def hold_unfiltered(route: Any) -> None:
        if parse_qs(urlparse(route.request.url).query).get("plan") == [w.plan]:
            route.continue_()
        else:
            held.append(route)

    context, page, rec = new_page(browser, 1280)
    try:
        page.route("**/v1/tenants?*", hold_unfiltered)
        sign_in(page, w.base, w.admin_key, "#/tenants")
        page.get_by_role("heading", name="Tenants", level=1).wait_for()
        page.get_by_label("Plan", exact=True).select_option(w.plan)
        page.get_by_role("button", name="Apply").click()
        page.wait_for_function("() => document.querySelectorAll('table.tenants tbody tr').length === 2")
        assert len(held) == 1  # the first, unfiltered list is still unanswered
        with page.expect_response(lambda response: response.url == held[0].request.url):
            held[0].continue_()
        page.wait_for_timeout(500)  # the page's turn to handle the late answer
        rows = page.locator("table.tenants tbody tr")
        assert sorted(rows.evaluate_all(ROWS)) == sorted([w.busy, w.quiet])
        check_clean(rec, w.base, (w.admin_key,))
    finally:
        context.close()
