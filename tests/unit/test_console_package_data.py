"""The console's files reach a pip install of the package as well as the layer (``sam build``
copies all of ``shared/``): pyproject's package-data globs, expanded as setuptools expands them
(``glob`` from the package's directory, no recursion), cover every file under
``tollgate/console`` - the vendored library's folder included."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "tollgate"


def test_package_data_ships_every_console_file_and_the_vendored_ones():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["tollgate"]
    shipped = {p for pattern in patterns for p in PACKAGE.glob(pattern) if p.is_file()}
    console = {p for p in (PACKAGE / "console").rglob("*") if p.is_file()}
    assert {"uPlot.esm.js", "uPlot.min.css", "LICENSE"} <= {p.name for p in console}
    assert console - shipped == set()
