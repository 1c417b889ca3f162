"""An issued invoice's life: payments, overdue, voids and reminders. Pure; no AWS.

States: ``draft -> issued -> paid``, ``issued -> overdue -> paid``, ``issued | overdue ->
void``. A draft is never voided (it is recomputed, or never issued). Each function here takes
the invoice's document as it is and returns the document after the move, or raises: a move
the state does not allow is a ``Conflict`` (409), a bad amount a ``ValidationFailed`` (422).
The store makes each move conditional on the version it read, so two concurrent moves cannot
both win.

Money stays decimal strings with the currency's minor digits; ``amount_paid`` and
``amount_due`` join the document at issue (``amount_due`` = ``total``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import Conflict, FieldError, ValidationFailed
from .invoices import InvoiceStatus
from .plans import LateFee
from .pricing import ZERO, money_text, round_money

OPEN = (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE)
"""Unpaid and not void: payable, voidable, reminded."""
DEFAULT_REMINDER_OFFSETS: tuple[int, ...] = (-3, 1, 7)
"""Days from ``due_at``: three days before, one day after, a week after."""
MAX_PAYMENTS = 100


def _money(doc: Mapping[str, Any], key: str) -> Decimal:
    return Decimal(str(doc.get(key) if doc.get(key) is not None else doc["total"]))


def opened(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document at issue: nothing paid, the total due."""
    return {**doc, "amount_paid": money_text(ZERO, doc["currency"]), "amount_due": doc["total"], "payments": []}


def _require(status: InvoiceStatus, allowed: Iterable[InvoiceStatus], move: str) -> None:
    allowed = tuple(allowed)
    if status not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise Conflict(f"an invoice that is {status.value} cannot be {move}: it must be {names}")


def parse_amount(raw: Any, currency: str) -> Decimal:
    """A payment amount: a positive decimal with at most the currency's minor digits."""
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("amount is not a number", [FieldError("amount", "must be a decimal number")]) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("amount must be above 0", [FieldError("amount", "must be above 0")])
    if round_money(amount, currency) != amount:
        raise ValidationFailed(
            f"amount has more digits than {currency} has minor units",
            [FieldError("amount", f"at most the minor units of {currency}")],
        )
    return amount


@dataclass(frozen=True)
class Payment:
    reference: str
    paid_at: datetime
    amount: Decimal | None = None  # None: everything due


def pay(doc: Mapping[str, Any], status: InvoiceStatus, payment: Payment) -> dict[str, Any]:
    """The document after ``payment``. Overpaying is a 422 naming ``amount``; the invoice is
    ``paid`` when nothing is left due. (A repeated reference is the store's to refuse.)"""
    _require(status, OPEN, "paid")
    currency = doc["currency"]
    due = _money(doc, "amount_due")
    amount = due if payment.amount is None else payment.amount
    if amount > due:
        raise ValidationFailed(
            f"the payment exceeds the amount due ({money_text(due, currency)} {currency})",
            [FieldError("amount", f"at most the amount due, {money_text(due, currency)}")],
        )
    payments: Sequence[dict[str, Any]] = doc.get("payments") or []
    if len(payments) >= MAX_PAYMENTS:
        raise ValidationFailed("too many payments", [FieldError("amount", f"at most {MAX_PAYMENTS} payments")])
    left = due - amount
    entry = {
        "reference": payment.reference,
        "amount": money_text(amount, currency),
        "paid_at": payment.paid_at.isoformat(),
    }
    out = {
        **doc,
        "status": (InvoiceStatus.PAID if left == 0 else status).value,
        "amount_paid": money_text(Decimal(str(doc.get("amount_paid") or "0")) + amount, currency),
        "amount_due": money_text(left, currency),
        "payments": [*payments, entry],
    }
    if left == 0:
        out["paid_at"] = payment.paid_at.isoformat()
    return out


def void(doc: Mapping[str, Any], status: InvoiceStatus, reason: str, at: datetime) -> dict[str, Any]:
    _require(status, OPEN, "voided")
    return {**doc, "status": InvoiceStatus.VOID.value, "voided_at": at.isoformat(), "void_reason": reason}


def is_overdue(doc: Mapping[str, Any], status: InvoiceStatus, now: datetime) -> bool:
    return (
        status is InvoiceStatus.ISSUED and doc.get("due_at") is not None and datetime.fromisoformat(doc["due_at"]) < now
    )


def mark_overdue(doc: Mapping[str, Any], status: InvoiceStatus, now: datetime) -> dict[str, Any]:
    _require(status, (InvoiceStatus.ISSUED,), "overdue")
    if not is_overdue(doc, status, now):
        raise Conflict("the invoice is not past its due date")
    return {**doc, "status": InvoiceStatus.OVERDUE.value, "overdue_at": now.isoformat()}


def reminders_due(due_at: datetime, now: datetime, offsets: Sequence[int]) -> list[int]:
    """The reminder offsets (days from ``due_at``) whose moment has come."""
    return [o for o in sorted(offsets) if due_at + timedelta(days=o) <= now]


def late_fee_due(doc: Mapping[str, Any], status: InvoiceStatus, policy: LateFee | None, now: datetime) -> bool:
    """An overdue invoice accrues its plan's late fee once, ``after_days`` after ``due_at``."""
    if policy is None or status is not InvoiceStatus.OVERDUE or doc.get("late_fee_pending"):
        return False
    return now >= datetime.fromisoformat(doc["due_at"]) + timedelta(days=policy.after_days)


def accrue_late_fee(doc: Mapping[str, Any], status: InvoiceStatus, policy: LateFee, now: datetime) -> dict[str, Any]:
    """The document with ``late_fee_pending``: the fee, charged on the tenant's next invoice
    (an issued invoice never changes its amounts)."""
    if not late_fee_due(doc, status, policy, now):
        raise Conflict("no late fee is due on this invoice")
    currency = doc["currency"]
    base = _money(doc, "amount_due")
    amount = base * policy.value / 100 if policy.type == "percentage" else policy.value
    return {
        **doc,
        "late_fee_pending": {
            "amount": money_text(round_money(amount, currency), currency),
            "accrued_at": now.isoformat(),
            "policy": policy.stored(),
        },
    }
