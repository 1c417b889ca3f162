"""Section: what the console costs to load (``python -m bench console``).

- **Bytes**: the first load of ``/dashboard`` - the page and every stylesheet and module it
  loads, as served (the route's body is the file) - raw, and gzip -9 for a compressing proxy
  or CDN in front (API Gateway's HTTP API does not compress).
- **API requests per page**: each page loaded once in headless Chromium (Playwright, Debian's
  ``chromium``) against the local stack, seeded with ``TENANTS`` tenants on one plan (two with
  usage and alerts); the requests to ``/v1/...`` until every panel has loaded. On AWS each is
  one HTTP API request, one authorizer invocation (``ReauthorizeEvery: 0``) and one API
  function invocation. The Tenants page lists ``PAGE`` (20) tenants and asks each one's quotas:
  1 + 20 + plans + meters.
- **Load time, local**: the same loads, navigation until no panel says "Loading…" and every
  chart is drawn (the local stack on this machine, not AWS latency).
"""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "shared" / "tollgate" / "console"
TENANTS = 20
REF = re.compile(r"""(?:src|href)="/dashboard/([^"]+)\"""")
IMPORT = re.compile(r"""from\s+["']\./([^"']+)["']""")


def first_load_files() -> list[str]:
    wanted, todo = {"index.html"}, list(REF.findall((CONSOLE / "index.html").read_text()))
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            if name.endswith(".js"):
                todo += IMPORT.findall((CONSOLE / name).read_text())
    return sorted(wanted)


def _bytes() -> dict[str, Any]:
    files = first_load_files()
    raw = sum((CONSOLE / f).stat().st_size for f in files)
    zipped = sum(len(gzip.compress((CONSOLE / f).read_bytes(), 9)) for f in files)
    return {"files": len(files), "bytes": raw, "gzip_bytes": zipped}


def _pages(base: str, world: Any) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.chromium import find_chromium
    from tests.e2e.console_browser import launch, new_page, sign_in

    pages = {  # name: (key, route, the page's heading)
        "overview": (world.admin_key, "#/overview", "Overview"),
        "tenants": (world.admin_key, "#/tenants", "Tenants"),
        "tenant": (world.admin_key, f"#/tenants/{world.busy}", f"Acme {world.tag}"),
        "portal_usage": (world.busy_key, "#/usage", "Usage"),
    }
    settled = (  # and every chart drawn: uPlot draws once its box is laid out
        "title => document.querySelector('#view h1')?.textContent === title && !document.querySelector('.loading')"
        " && [...document.querySelectorAll('.chart')].every(c => c.querySelector('.uplot canvas')?.width > 0)"
    )
    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = launch(playwright, find_chromium() or "chromium")
        for name, (key, route, title) in pages.items():
            context, page, rec = new_page(browser, 1280)
            sign_in(page, base, key, "#/none")  # signed in on a page that loads nothing
            page.get_by_role("heading", name="Not found").wait_for()
            page.wait_for_timeout(300)
            rec.requests.clear()
            started = time.perf_counter()
            page.evaluate("route => { window.location.hash = route; }", route)
            page.wait_for_function(settled, arg=title)
            elapsed = time.perf_counter() - started
            page.wait_for_timeout(500)  # nothing more is asked once every panel has loaded
            out[name] = {"api_requests": sum("/v1/" in u for u in rec.requests), "seconds": round(elapsed, 2)}
            context.close()
        browser.close()
    return out


def run() -> dict[str, Any]:
    import requests

    from tests.e2e.conftest import start_local_stack
    from tests.e2e.console_world import seed

    result: dict[str, Any] = {"first_load": _bytes(), "tenants": TENANTS}
    stack = start_local_stack()
    try:
        world = seed(stack.base_url, stack.admin_key)
        for i in range(TENANTS - 2):
            body = {"id": f"t{i:02d}-{world.tag}", "name": f"Tenant {i:02d}", "plan": world.plan}
            r = requests.post(f"{stack.base_url}/v1/tenants", headers=world.admin, json=body, timeout=10)
            assert r.status_code == 201, r.text
        result["pages"] = _pages(stack.base_url, world)
    finally:
        stack.stop()
        stack.log.close()
    return result


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    load = r["first_load"]
    out = [
        (
            f"console first load ({load['files']} files)",
            f"{load['bytes']:,} B ({load['gzip_bytes']:,} B gzip -9)",
            "report",
            "-",
        )
    ]
    for name, page in r["pages"].items():
        out.append(
            (
                f"console page {name}, {r['tenants']} tenants: API requests, local load",
                f"{page['api_requests']} requests, {page['seconds']} s",
                "report",
                "-",
            )
        )
    return out
