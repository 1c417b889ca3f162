"""Playwright on Debian's Chromium (``tests.chromium.find_chromium``), kept off the network as
``tests.chromium`` keeps it (every host name resolves to nothing; the local stack is an IP
literal), and a page that records what the console did: every URL it requested and every
console message and page error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.chromium import FLAGS, find_chromium
from tollgate.domain.keys import split_key

# Playwright runs the browser headless itself; the local stack listens on 127.0.0.1, which
# the resolver rule would map to nothing too, so it is the one exception.
ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if flag.startswith("--host-resolver-rules") else flag
    for flag in FLAGS
    if flag != "--headless"
]


def launch(playwright: Any, binary: str) -> Any:
    return playwright.chromium.launch(executable_path=binary, args=ARGS)


@dataclass
class Recorder:
    requests: list[str] = field(default_factory=list)
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.messages.append((m.type, m.text, (m.location or {}).get("url", ""))))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def console_errors(self, allowed_404s: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
        """Error and warning messages, but for a failed load of a URL starting with one of
        ``allowed_404s`` (a route the test calls on purpose, or one this deployment lacks)."""
        return [
            m
            for m in self.messages
            if m[0] in ("error", "warning")
            and not ("status of 404" in m[1] and any(m[2].split("?")[0].endswith(a) or a in m[2] for a in allowed_404s))
        ]


def new_page(browser: Any, width: int, height: int = 900) -> tuple[Any, Any, Recorder]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    recorder = Recorder()
    recorder.attach(page)
    return context, page, recorder


def sign_in(page: Any, base: str, key: str, route: str = "") -> None:
    """Open the console (at ``route``, e.g. ``#/tenants``) and sign in with the keyboard: the
    key field has focus, Enter submits."""
    page.goto(f"{base}/dashboard{route}")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'signin-key'")
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.locator("#signout").wait_for(state="visible")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI must run the console in a browser: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    binary = find_chromium()
    if binary is None:
        _missing("headless Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = launch(playwright, binary)
        yield launched
        launched.close()


def check_clean(rec: Recorder, origin: str, keys: tuple[str, ...], allowed_404s: tuple[str, ...] = ()) -> None:
    """Every request went to ``origin`` with no key in its URL; no page error; no console error
    or warning but the allowed 404s."""
    for url in rec.requests:
        assert url.startswith(origin + "/") or url.startswith("data:"), f"a request elsewhere: {url}"
        for key in keys:
            parts = split_key(key)
            assert parts is not None, "not a Tollgate key"
            assert key not in url and parts[1] not in url, f"the key (or its secret) is in a URL: {url}"
    assert rec.errors == [], rec.errors
    assert rec.console_errors(allowed_404s) == [], rec.console_errors(allowed_404s)
