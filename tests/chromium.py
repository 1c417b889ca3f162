"""Headless Chromium for looking at a page the way a reader does (the browser test of the HTML
invoice, and its screenshot in docs/): the DOM after load, the network requests the page
made, a PNG and a PDF. Chromium comes from Debian (``apt-get install chromium``); ``$CHROMIUM``
names another binary.

Every run gets a new profile and flags that keep the browser off the network: no background
networking, component updates or sync (a closed network makes Chromium wait on them), and
every host name resolves to nothing, so a page that tried to fetch something would fail
loudly in the net log instead of reaching out."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

A4_WINDOW = (1240, 1754)  # A4 at 150 dpi, in pixels
TIMEOUT_S = 60
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox needs user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def find_chromium() -> str | None:
    """``$CHROMIUM``, else ``chromium`` (Debian) or ``chromium-browser`` on the PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named)
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run(binary: str, page: Path, *args: str) -> str:
    """Chromium on ``page`` with a fresh profile; its stdout. Fails with its stderr."""
    with tempfile.TemporaryDirectory(prefix="tollgate-chromium-") as profile:
        done = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}:\n{done.stderr[-4000:]}")
    return done.stdout


@dataclass(frozen=True)
class Loaded:
    dom: str  # the document after load, as ``--dump-dom`` serializes it
    requests: list[str]  # the URLs the page asked the network stack for


def load(binary: str, page: Path) -> Loaded:
    """Load ``page``, run its scripts, dump its DOM, and list what it fetched (from Chromium's
    net log: the requests made on behalf of the file:// page, not the browser's own)."""
    with tempfile.TemporaryDirectory(prefix="tollgate-netlog-") as tmp:
        netlog = Path(tmp) / "netlog.json"
        dom = run(binary, page, f"--log-net-log={netlog}", "--dump-dom")
        return Loaded(dom, page_requests(_read_netlog(netlog)))


def _read_netlog(path: Path) -> dict[str, Any]:
    text = path.read_text(errors="replace")
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except json.JSONDecodeError:  # the browser exited before closing the event list
        return json.loads(text.rstrip().rstrip(",") + "]}")  # type: ignore[no-any-return]


def page_requests(netlog: dict[str, Any]) -> list[str]:
    """The URLs of requests a file:// page started (its network isolation key is file://);
    the browser's own (time, update and account checks) have another key and are left out."""
    start_job = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in netlog["events"]
        if e["type"] == start_job and str(e.get("params", {}).get("network_isolation_key", "")).startswith("file://")
    ]


def screenshot(binary: str, page: Path, window: tuple[int, int] = A4_WINDOW) -> bytes:
    """A PNG of the page's first ``window`` pixels."""
    with tempfile.TemporaryDirectory(prefix="tollgate-shot-") as tmp:
        png = Path(tmp) / "page.png"
        run(binary, page, f"--screenshot={png}", f"--window-size={window[0]},{window[1]}")
        return png.read_bytes()


def print_to_pdf(binary: str, page: Path) -> bytes:
    """The page as Chromium prints it (its @page size and margins), no header or footer."""
    with tempfile.TemporaryDirectory(prefix="tollgate-pdf-") as tmp:
        pdf = Path(tmp) / "page.pdf"
        run(binary, page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
        return pdf.read_bytes()


# ------------------------------------------------------------------ PNG, with the stdlib
@dataclass(frozen=True)
class Png:
    width: int
    height: int
    channels: int  # 3 (RGB) or 4 (RGBA), 8 bits each
    rows: list[bytes]  # unfiltered scanlines

    def ink(self) -> float:
        """The share of samples that are not white (255)."""
        total = sum(len(r) for r in self.rows)
        return sum(len(r) - r.count(255) for r in self.rows) / total

    def dark(self) -> int:
        """How many samples are below 128: text and rules, not a tint."""
        return sum(sum(1 for b in r if b < 128) for r in self.rows)


def read_png(data: bytes) -> Png:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes), checking its
    signature and every chunk's CRC. ValueError on anything else."""
    chunks = _chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or not any(kind == b"IDAT" for kind, _ in chunks):
        raise ValueError("no IHDR first, or no IDAT")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, color type {color}, interlace {interlace}")
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError(f"{len(raw)} bytes of pixels for {width} x {height}")
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels)
        rows.append(row)
        previous = row
    return Png(width, height, channels, rows)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk up to IEND, each one's CRC checked."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG (bad signature)")
    chunks: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos + 12 <= len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        if pos + 12 + size > len(data):
            break
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        (crc,) = struct.unpack(">I", data[pos + 8 + size : pos + 12 + size])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        if kind == b"IEND":
            return chunks
        chunks.append((kind, body))
        pos += 12 + size
    raise ValueError("truncated PNG: no IEND")


def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> bytes:  # noqa: C901 - the five PNG filters
    n = len(line)
    if kind == 0:
        pass
    elif kind == 1:  # Sub
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif kind == 2:  # Up (a blank page is mostly rows equal to the one above: all zeros)
        if line.count(0) == n:
            return prev
        for i in range(n):
            line[i] = (line[i] + prev[i]) & 255
    elif kind == 3:  # Average
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (left + prev[i]) // 2) & 255
    elif kind == 4:  # Paeth
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    else:
        raise ValueError(f"unknown PNG filter {kind}")
    return bytes(line)


# ------------------------------------------------------------------ PDF pages
def pdf_page_sizes(data: bytes) -> list[tuple[float, float]]:
    """Each page's MediaBox width and height in points, read from the page objects Chromium
    (Skia) writes uncompressed: ``<</Type /Page ... /MediaBox [0 0 594.96 841.92]``."""
    if not data.startswith(b"%PDF-"):
        raise ValueError("not a PDF")
    sizes = []
    for match in re.finditer(rb"/Type\s*/Page\b(?!s)(.*?)>>\s*endobj", data, re.DOTALL):
        box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", match.group(1))
        if box is None:
            raise ValueError("a page without a MediaBox")
        x0, y0, x1, y1 = (float(v) for v in box.groups())
        sizes.append((x1 - x0, y1 - y0))
    return sizes
