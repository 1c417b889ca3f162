"""An invoice's lines and totals: the order and the rounding, stated once. Pure; no AWS.

1. The base fee and each charge become a line, each rounded to the currency's minor units
   (``pricing.round_money``, ROUND_HALF_UP).
2. ``subtotal`` is their sum. A minimum commitment adds a true-up line, ``minimum -
   subtotal`` when positive (as Lago computes it), before discounts.
3. Discounts apply to that subtotal in their order (the discount rules decide which apply
   and how much); each is its own line with a negative amount, rounded; together they never
   take the subtotal below zero.
4. Tax: per rate, ``percent`` of the discounted subtotal, computed on that rounded amount
   and rounded once. Reverse charge (or no rate, or tax exempt) is no tax.
5. ``total`` = discounted subtotal + tax. Every figure is a sum of rounded lines, so the
   total always equals the lines plus the tax, to the minor unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from .pricing import ZERO, money_text, round_money


class LineType(str, Enum):
    BASE_FEE = "base_fee"
    CHARGE = "charge"
    MINIMUM_COMMITMENT = "minimum_commitment"
    LATE_FEE = "late_fee"
    DISCOUNT = "discount"


@dataclass(frozen=True)
class Line:
    type: LineType
    description: str
    amount: Decimal  # rounded to the currency's minor units
    details: dict[str, Any] = field(default_factory=dict)  # meter, filter, quantity, unit_amount, tiers


@dataclass(frozen=True)
class TaxLine:
    name: str
    percent: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Totals:
    currency: str
    lines: tuple[Line, ...]
    subtotal: Decimal  # before discounts, the minimum commitment's true-up included
    discount_total: Decimal  # zero or negative
    taxes: tuple[TaxLine, ...]
    tax_total: Decimal
    total: Decimal
    reverse_charge: bool = False


@dataclass(frozen=True)
class Draft:
    """What to bill, before rounding: the base fee and each charge's exact amount."""

    currency: str
    base_fee: Decimal = ZERO
    charges: tuple[tuple[str, Decimal, dict[str, Any]], ...] = ()  # (description, exact amount, details)
    minimum_commitment: Decimal | None = None
    base_fees: tuple[tuple[str, Decimal, dict[str, Any]], ...] = ()
    """A base fee per plan in force (a plan change mid-period), each prorated; replaces
    ``base_fee`` when given."""
    late_fees: tuple[tuple[str, Decimal, dict[str, Any]], ...] = ()
    """Late fees accrued on earlier invoices: in the subtotal, after the minimum commitment's
    true-up (which they do not count toward)."""


Discounter = Callable[[Decimal], Sequence[tuple[str, Decimal]]]
"""Given the subtotal, the discounts that apply: (description, amount <= 0), in order."""


def assemble(
    draft: Draft,
    *,
    discounts: Discounter | None = None,
    tax_rates: Sequence[tuple[str, Decimal]] = (),
    reverse_charge: bool = False,
) -> Totals:
    cur = draft.currency
    lines: list[Line] = []
    if draft.base_fees:
        lines += [Line(LineType.BASE_FEE, d, round_money(a, cur), details) for d, a, details in draft.base_fees if a]
    elif draft.base_fee:
        lines.append(Line(LineType.BASE_FEE, "Base fee", round_money(draft.base_fee, cur)))
    lines += [Line(LineType.CHARGE, d, round_money(a, cur), details) for d, a, details in draft.charges]
    subtotal = sum((line.amount for line in lines), ZERO)
    if draft.minimum_commitment is not None:
        true_up = round_money(draft.minimum_commitment, cur) - subtotal
        if true_up > 0:
            lines.append(Line(LineType.MINIMUM_COMMITMENT, "Minimum commitment true-up", true_up))
            subtotal += true_up
    for description, amount, details in draft.late_fees:
        fee = round_money(amount, cur)
        lines.append(Line(LineType.LATE_FEE, description, fee, details))
        subtotal += fee
    discount_total = ZERO
    for description, amount in discounts(subtotal) if discounts is not None else ():
        rounded = max(round_money(amount, cur), -(subtotal + discount_total))  # never below zero
        if rounded < 0:
            lines.append(Line(LineType.DISCOUNT, description, rounded))
            discount_total += rounded
    taxable = subtotal + discount_total
    taxes = (
        ()
        if reverse_charge
        else tuple(TaxLine(name, percent, round_money(taxable * percent / 100, cur)) for name, percent in tax_rates)
    )
    tax_total = sum((t.amount for t in taxes), ZERO)
    return Totals(cur, tuple(lines), subtotal, discount_total, taxes, tax_total, taxable + tax_total, reverse_charge)


def as_json(totals: Totals) -> dict[str, Any]:
    """The money part of the invoice JSON: every amount a decimal string with exactly the
    currency's minor digits (``"41.50"``, ``"500"``, ``"0.375"``)."""
    cur = totals.currency

    def m(amount: Decimal) -> str:
        return money_text(amount, cur)

    return {
        "currency": cur,
        "lines": [
            {"type": line.type.value, "description": line.description, **line.details, "amount": m(line.amount)}
            for line in totals.lines
        ],
        "subtotal": m(totals.subtotal),
        "discount_total": m(totals.discount_total),
        "taxes": [
            {"name": t.name, "percent": f"{t.percent.normalize():f}", "amount": m(t.amount)} for t in totals.taxes
        ],
        "tax_total": m(totals.tax_total),
        "total": m(totals.total),
        "reverse_charge": totals.reverse_charge,
    }
