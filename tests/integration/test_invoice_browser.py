"""The HTML invoice in a real browser: Debian's headless Chromium (installed by .ci/run) loads
the rendered page with every network lookup refused, and the DOM it builds holds the number,
the dates, every line's amount, the tax and the total; the tenant's name stays text (its
``<script>`` never becomes an element); the A4 screenshot is an image with ink on it."""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from tests.invoice_samples import TENANT_NAME, chromium, render, sample_invoice, screenshot

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> str:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("no headless Chromium here (Debian: apt-get install chromium)")
    return CHROMIUM


def _text(dom: str) -> str:
    """What the page shows: the body's text, entities decoded."""
    body = dom[dom.index("<body") :]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_the_browser_shows_the_invoice_s_content_and_the_tenant_name_as_text(browser, tmp_path: Path):
    doc = sample_invoice()
    page_html = render(doc)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page_html)  # nothing from the network
    page = tmp_path / "invoice.html"
    page.write_text(page_html, encoding="utf-8")
    result = chromium("--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    text = _text(dom)
    for expected in ("TG-000042", "2026-12-02", "2027-01-01", "2026-11-01 – 2026-11-30", doc["total"], "229.22"):
        assert expected in text, expected
    for line in doc["lines"]:
        assert line["amount"] in text, line
    assert "TVA (20 %)" in text and "38.20" in text and "3,100,000" in text
    assert "Tier 2: 5 × 6.5" in text and "FR40303265045" in text
    assert dom.count("<script") == 0  # the tenant's name was escaped, never parsed as markup
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</p>" in dom and TENANT_NAME in text


def _png_size_and_ink(data: bytes) -> tuple[int, int, float]:
    """Width, height and the share of non-white pixels of an 8-bit RGB(A) PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride, ink, previous = width * channels, 0, bytearray(width * channels)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):  # undo the PNG filters
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        ink += sum(1 for x in range(0, stride, channels) if min(line[x : x + 3]) < 200)
        previous = line
    return width, height, ink / (width * height)


def test_the_a4_screenshot_is_an_image_with_the_invoice_on_it(browser, tmp_path: Path):
    out = tmp_path / "invoice.png"
    result = screenshot(render(sample_invoice()), out, size="620,877")  # A4 at 75 dpi: a quick decode
    assert result.returncode == 0 and out.exists(), result.stderr[-2000:]
    width, height, ink = _png_size_and_ink(out.read_bytes())
    assert (width, height) == (620, 877)
    assert 0.005 < ink < 0.5  # text and rules on a white page: neither blank nor a solid block
