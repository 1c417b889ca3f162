"""Invoice exports: one row per invoice (or per line), for a spreadsheet or an accounting
import. Pure; no AWS.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula, and a tenant's name is attacker-controlled, so ``safe_cell`` prefixes such
a cell with ``'`` (OWASP's CSV-injection advice): it reads as text. A plain decimal number,
such as a discount's ``-6.75``, is not a formula and stays as it is, so sums still work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")

INVOICE_COLUMNS = (
    "number",
    "tenant_id",
    "tenant_name",
    "country",
    "tax_id",
    "issue_date",
    "due_date",
    "status",
    "currency",
    "subtotal",
    "discount",
    "tax",
    "total",
    "paid",
    "due",
    "link",
)
LINE_COLUMNS = ("line", "line_type", "description", "quantity", "unit_amount", "amount")


def safe_cell(value: Any) -> str:
    """The cell's text, neutralised when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def columns(lines: bool) -> tuple[str, ...]:
    return INVOICE_COLUMNS + (LINE_COLUMNS if lines else ())


def _date(text: str | None) -> str | None:
    return text[:10] if text else None


def invoice_row(doc: Mapping[str, Any], link: str | None) -> dict[str, Any]:
    bill_to = doc.get("bill_to") or {}
    address = bill_to.get("billing_address") or {}
    return {
        "number": doc.get("number"),
        "tenant_id": doc.get("tenant_id"),
        "tenant_name": bill_to.get("name"),
        "country": address.get("country"),
        "tax_id": bill_to.get("tax_id"),
        "issue_date": _date(doc.get("issued_at")),
        "due_date": _date(doc.get("due_at")),
        "status": doc.get("status"),
        "currency": doc.get("currency"),
        "subtotal": doc.get("subtotal"),
        "discount": doc.get("discount_total"),
        "tax": doc.get("tax_total"),
        "total": doc.get("total"),
        "paid": doc.get("amount_paid"),
        "due": doc.get("amount_due"),
        "link": link,
    }


def rows(doc: Mapping[str, Any], link: str | None, lines: bool) -> Iterator[dict[str, Any]]:
    """The invoice's row, or one row per line (the invoice's columns repeated)."""
    head = invoice_row(doc, link)
    if not lines:
        yield head
        return
    for i, line in enumerate(doc.get("lines") or [], start=1):
        yield {
            **head,
            "line": i,
            "line_type": line.get("type"),
            "description": line.get("description"),
            "quantity": line.get("quantity"),
            "unit_amount": line.get("unit_amount"),
            "amount": line.get("amount"),
        }
