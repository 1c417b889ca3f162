"""The console's screenshots in docs/ (console-overview.png, console-tenant.png), from a local
stack seeded like the browser tests: ``python -m tests.e2e.screenshots`` (Chromium and
Playwright needed)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.chromium import find_chromium
from tests.e2e.conftest import start_local_stack
from tests.e2e.console_browser import launch, new_page, sign_in
from tests.e2e.console_world import rolled_up, seed

DOCS = Path(__file__).resolve().parents[2] / "docs"


def settled(page) -> None:
    """Every panel has loaded (none says "Loading…") and every chart is drawn (uPlot draws once
    its box is laid out)."""
    page.wait_for_function("() => document.querySelector('#view h1') && !document.querySelector('.loading')")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('.uplot canvas')?.width > 0)"
    )


def main() -> int:
    from playwright.sync_api import sync_playwright

    binary = find_chromium()
    if binary is None:
        print("Chromium is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    stack = start_local_stack()
    try:
        world = seed(stack.base_url, stack.admin_key)
        rolled_up(world)  # the overview's charts read roll-ups
        with sync_playwright() as playwright:
            browser = launch(playwright, binary)
            context, page, _ = new_page(browser, 1280, 900)
            sign_in(page, stack.base_url, stack.admin_key)
            settled(page)
            page.screenshot(path=str(DOCS / "console-overview.png"), full_page=True)
            page.goto(f"{stack.base_url}/dashboard#/tenants/{world.busy}")
            page.locator(".tenant-quotas .quota").wait_for()
            settled(page)
            page.screenshot(path=str(DOCS / "console-tenant.png"), full_page=True)
            context.close()
            browser.close()
    finally:
        stack.stop()
        stack.log.close()
    print(f"wrote {DOCS / 'console-overview.png'} and {DOCS / 'console-tenant.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
