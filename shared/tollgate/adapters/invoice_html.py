"""The HTML invoice: jinja2 with autoescaping (``templates/invoice.html.j2``), printable A4,
every style inline, nothing fetched from the network. Input is the invoice JSON (the same
document ``GET /v1/invoices/{id}`` returns, its money already decimal strings)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_DECIMAL = re.compile(r"(-?)(\d+)(\.\d+)?")


def grouped(value: object) -> str:
    """A decimal string with its whole part in groups of three (``"2400000"`` is
    ``"2,400,000"``, ``"-1234.50"`` is ``"-1,234.50"``); the digits and the sign as they are,
    anything else as its text, None as nothing."""
    if value is None:
        return ""
    text = str(value)
    match = _DECIMAL.fullmatch(text)
    if match is None:
        return text
    sign, whole, fraction = match.groups()
    return f"{sign}{int(whole):,}{fraction or ''}"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tollgate", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["grouped"] = grouped
    return env


def _day(text: str | None) -> str | None:
    return datetime.fromisoformat(text).date().isoformat() if text else None


def _period(period: dict[str, str]) -> str:
    """``2026-11-01 – 2026-11-30``: the end is exclusive (the next period's start)."""
    start = datetime.fromisoformat(period["start"])
    last = datetime.fromisoformat(period["end"]) - timedelta(days=1)
    return f"{start.date().isoformat()} – {last.date().isoformat()}"


def render_invoice_html(invoice: dict[str, Any], *, seller: list[str], bill_to: list[str], net_days: int = 30) -> str:
    """The invoice as one self-contained HTML page. ``seller`` and ``bill_to`` are the
    address blocks' lines (name, street, city, country, tax id)."""
    template = _environment().get_template("invoice.html.j2")
    number = invoice.get("number")
    return template.render(
        invoice=invoice,
        title=f"Invoice {number}" if number else f"Invoice ({invoice.get('status', 'draft')})",
        issued=_day(invoice.get("issued_at")),
        due=_day(invoice.get("due_at")),
        period=_period(invoice["period"]),
        seller=[line for line in seller if line],
        bill_to=[line for line in bill_to if line],
        net_days=net_days,
    )
