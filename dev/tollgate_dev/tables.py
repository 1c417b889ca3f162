"""Plain-text tables and a progress bar for the operator CLI (people read these; scripts use --json)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

EMPTY = "-"


def cell(value: Any) -> str:
    """A value as one line of text: None is ``-``, booleans are yes/no, lists are comma-joined."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value) or EMPTY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())  # a newline or tab in a name never breaks the row


def _numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("%", "").lstrip("-")
    return bool(stripped) and stripped.replace(".", "", 1).isdigit()


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]], empty: str = "(none)") -> str:
    """``rows`` under ``columns`` (key, header); numbers right-aligned, text left-aligned."""
    texts = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    if not texts:
        return empty
    headers = [header for _, header in columns]
    widths = [max(len(h), *(len(r[i]) for r in texts)) for i, h in enumerate(headers)]
    numeric = [all(_numeric(r[i]) or r[i] == EMPTY for r in texts) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in texts)])


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """``label: value`` lines, the labels aligned."""
    width = max((len(label) for label, _ in items), default=0)
    return "\n".join(f"{label + ':':<{width + 1}} {cell(value)}" for label, value in items)


class Progress:
    """``label [#####.....] done/total`` redrawn in place on a terminal; silent elsewhere (a
    pipe or a CI log gets no control characters)."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.active = stream.isatty()
        self.drawn = False

    def update(self, done: int, total: int | None) -> None:
        if not self.active:
            return
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            text = f"{self.label} [{bar}] {done}/{total}"
        else:
            text = f"{self.label} {done}/?"
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
