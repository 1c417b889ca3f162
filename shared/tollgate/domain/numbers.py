"""Decimals in JSON documents. Pure; no AWS.

Every quantity in Tollgate is a ``Decimal`` (usage, limits, money). JSON has one number type,
which most readers hold as a double, so one rule writes them all: ``json_number``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

JsonNumber = int | float | str
"""What ``json_number`` gives: a JSON number, or the decimal text when no JSON number a
double reader would take holds the value exactly."""


def as_decimal(value: Any) -> Decimal:
    """A Decimal from a Decimal, an int, a float (by its shortest text) or decimal text."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def json_number(d: Decimal) -> JsonNumber:
    """``d`` for a JSON document, never losing a digit: an integer stays exact (any size); a
    fraction becomes a double when the double's shortest text is exactly ``d`` (``0.25``,
    ``2.5``, ``0.1``), else the decimal text (a double would round it, and money must not be)."""
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    return f if Decimal(repr(f)) == d else str(d)
