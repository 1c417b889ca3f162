"""The HTML invoice looked at in a real browser: headless Chromium (Debian's ``chromium``) loads
the rendered page from a file and the test reads what it shows (the DOM after load), what its
scripts did, what it fetched (the net log), a screenshot and its print to PDF.

Skipped where Chromium is missing, except in CI (``CI`` set): there a missing browser fails,
so CI cannot pass without looking (``.ci/run`` installs it)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import Markup

from tests.chromium import A4_WINDOW, Loaded, find_chromium, load, pdf_page_sizes, print_to_pdf, read_png, screenshot
from tests.invoice_samples import TENANT_NAME, Sample, sample_invoice

pytestmark = pytest.mark.browser

# A script of the test's own, first in <head>: it records what ran (an alert, how many
# scripts the document has) as attributes of <html>, where --dump-dom shows them.
PROBE = """<script>
window.alert = function (message) { document.documentElement.setAttribute("data-alerted", String(message)); };
document.addEventListener("DOMContentLoaded", function () {
  document.documentElement.setAttribute("data-scripts", String(document.scripts.length));
  document.documentElement.setAttribute("data-title", document.title);
});
</script>"""
EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//))|url\(|@import""", re.I
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if in_ci():
            pytest.fail(
                "CI must look at the HTML invoice in a browser, and Chromium is missing (apt-get install chromium)"
            )
        pytest.skip("headless Chromium is not installed (apt-get install chromium); in CI this fails")
    return binary


@pytest.fixture(scope="module")
def sample() -> Sample:
    return sample_invoice()


def probed(html: str) -> str:
    assert html.count("<head>") == 1
    return html.replace("<head>", "<head>\n" + PROBE, 1)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("invoice-pages")


@pytest.fixture(scope="module")
def loaded(chromium: str, sample: Sample, pages: Path) -> Loaded:
    page = pages / "invoice.html"
    page.write_text(probed(sample.html()), encoding="utf-8")
    return load(chromium, page)


@dataclass
class Dom:
    attrs: dict[str, str]  # <html>'s attributes
    rows: list[list[str]]  # every table row: its cells' text, whitespace collapsed
    text: str  # the body's text, whitespace collapsed
    scripts: list[str]  # every <script> element's text


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, str] = {}
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._cell: list[str] | None = None
        self._in: str | None = None  # script or style: their text is not the page's

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.attrs = {k: v or "" for k, v in attrs}
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("script", "style"):
            self._in = tag
            if tag == "script":
                self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag in ("script", "style"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in is None:
            self.text.append(data)
            if self._cell is not None:
                self._cell.append(data)


def read_dom(dom: str) -> Dom:
    reader = _Reader()
    reader.feed(dom)
    return Dom(reader.attrs, reader.rows, " ".join(" ".join(reader.text).split()), reader.scripts)


def row(rows: list[list[str]], first: str) -> list[str]:
    found = [r for r in rows if r and r[0] == first]
    assert len(found) == 1, f"one row {first!r} expected in {rows}"
    return found[0]


def test_the_browser_shows_the_number_dates_parties_every_line_and_its_amount_the_tax_and_the_total(
    loaded: Loaded, sample: Sample
):
    doc, dom = sample.doc, read_dom(loaded.dom)
    assert dom.attrs.get("data-title") == "Invoice TG-000042"  # document.title, as the browser has it
    for expected in ("TG-000042", "2026-12-01", "2026-12-31", "2026-11-01 – 2026-11-30", "net 30 days, due 2026-12-31"):
        assert expected in dom.text, expected
    for line in [*sample.seller, *sample.bill_to]:
        assert line in dom.text, line
    assert "Tax ID: FR40303265045" in dom.text and "VAT FR32123456789" in dom.text

    assert [line["type"] for line in doc["lines"]] == ["base_fee", "charge", "charge", "charge", "charge", "discount"]
    for line in doc["lines"]:
        assert row(dom.rows, line["description"])[-1] == line["amount"], line["description"]
    assert row(dom.rows, "Tokens (model: gpt-4o)")[1:] == ["2,400,000", "0.00001", "24.00"]  # digits grouped
    assert row(dom.rows, "API calls, first 10000 free")[1:] == ["58,250 48,250 billable", "0.002", "96.50"]
    graduated = row(dom.rows, "Render minutes")
    assert graduated[1] == "20" and graduated[-1] == "127.50"  # the Stripe vector
    start = dom.rows.index(graduated)
    tiers = [(r[0], r[-1]) for r in dom.rows[start + 1 : start + 4]]
    assert tiers == [("Tier 1: 5 × 7", "35.00"), ("Tier 2: 5 × 6.5", "32.50"), ("Tier 3: 10 × 6", "60.00")]
    assert row(dom.rows, "Launch offer: 25 % off tokens")[-1] == "-6.75"

    assert (doc["subtotal"], doc["discount_total"], doc["tax_total"], doc["total"]) == (
        "300.00",
        "-6.75",
        "58.65",
        "351.90",
    )  # 49 + 96.50 + 127.50 + 24 + 3; 25 % of the tokens' 27.00 off; 20 % of 293.25
    assert row(dom.rows, "Subtotal") == ["Subtotal", "300.00"]
    assert row(dom.rows, "Discounts") == ["Discounts", "-6.75"]
    assert row(dom.rows, "VAT FR (20 %)") == ["VAT FR (20 %)", "58.65"]
    assert row(dom.rows, "Total USD") == ["Total USD", "351.90"]


def test_the_tenants_html_name_is_shown_as_text_and_nothing_of_it_runs(
    chromium: str, loaded: Loaded, sample: Sample, pages: Path
):
    dom = read_dom(loaded.dom)
    assert sample.bill_to[0] == TENANT_NAME == "<script>alert(1)</script> & Co"
    assert TENANT_NAME in dom.text  # shown as its characters
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in loaded.dom  # serialized as text
    assert dom.scripts == [PROBE.split(">", 1)[1].rsplit("</script>", 1)[0]]  # the probe, and no other script
    assert dom.attrs.get("data-scripts") == "1" and "data-alerted" not in dom.attrs

    # The control: the same page with the name let through as markup. The browser runs it,
    # and the probe sees it; so the clean result above is the browser's, not a blind probe's.
    raw = Sample(sample.doc, sample.seller, [Markup(TENANT_NAME), *sample.bill_to[1:]], sample.net_days)
    page = pages / "unescaped.html"
    page.write_text(probed(raw.html()), encoding="utf-8")
    control = read_dom(load(chromium, page).dom)
    assert control.attrs.get("data-alerted") == "1" and control.attrs.get("data-scripts") == "2"


def test_the_page_fetches_nothing_from_the_network(chromium: str, loaded: Loaded, sample: Sample, pages: Path):
    html = sample.html()
    assert EXTERNAL.findall(html) == [], "the invoice must be self-contained: inline CSS, no links, no images"
    for element in ("<link", "<img", "<script", "<iframe", "<object", "<embed", "<video", "<audio"):
        assert element not in html.lower(), element
    assert loaded.requests == []  # nothing asked of the network stack (every host resolves to nothing anyway)

    # The control: one remote image, and the net log has its request.
    page = pages / "remote.html"
    page.write_text(html.replace("</body>", '<img src="https://cdn.example.com/logo.png" alt=""></body>'))
    assert load(chromium, page).requests == ["https://cdn.example.com/logo.png"]


def test_a_screenshot_is_an_a4_sized_png_with_the_invoice_on_it(chromium: str, sample: Sample, pages: Path):
    page = pages / "shot.html"
    page.write_text(sample.html(), encoding="utf-8")
    png = read_png(screenshot(chromium, page, A4_WINDOW))
    assert (png.width, png.height) == A4_WINDOW == (1240, 1754)
    assert 0.005 < png.ink() < 0.5, png.ink()  # not blank, not a wash of colour
    assert png.dark() > 10_000  # text


def test_it_prints_on_one_a4_page(chromium: str, sample: Sample, pages: Path):
    page = pages / "print.html"
    page.write_text(sample.html(), encoding="utf-8")
    sizes = pdf_page_sizes(print_to_pdf(chromium, page))
    assert len(sizes) == 1, f"{len(sizes)} pages: a six-line invoice must fit on one"
    ((width, height),) = sizes
    assert abs(width - 595.28) < 1 and abs(height - 841.89) < 1  # A4 in points, from the template's @page
