"""Invoices and invoice runs: the records the invoice store keeps, their ids, and billing
periods. Pure; no AWS.

An invoice is one tenant's bill for one period (the calendar month in the tenant's zone,
``YYYY-MM``). Its id is a function of (tenant, period, generation), so every run, retry and
redelivery that bills a period finds the same invoice: one invoice per tenant and period.
``generation`` is 0; a later void and re-bill (the invoice lifecycle) takes the next.

States: ``draft`` (no number; recomputed from the counters while late events land),
``issued`` (numbered gap-free, amounts frozen), then ``overdue``, ``paid`` and ``void``
(``domain.invoice_lifecycle``). ``upcoming`` is the preview's status: never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from . import periods
from .periods import Window

PERIOD_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
"""``YYYY-MM``, years 1900 to 2999 (a billing period; no year 0 or 9999's next month)."""
_PERIOD = re.compile(PERIOD_PATTERN)


class InvoiceStatus(str, Enum):
    DRAFT = "draft"
    ISSUED = "issued"
    OVERDUE = "overdue"
    PAID = "paid"
    VOID = "void"
    UPCOMING = "upcoming"  # the preview; never stored


class TransitionResult(str, Enum):
    DONE = "done"
    STALE = "stale"  # the invoice moved since it was read: read it again
    REPEATED = "repeated"  # the marker (a payment's reference) was already used: nothing to do


def is_period(text: str) -> bool:
    return _PERIOD.fullmatch(text) is not None


def period_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the calendar month ``YYYY-MM`` in ``tz``: local midnights, aware."""
    year, month = int(period[:4]), int(period[5:7])
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start, end


def period_of(moment: datetime, tz: ZoneInfo) -> str:
    """The period holding ``moment`` in ``tz``."""
    start = periods.window_start(moment, Window.MONTH, tz)
    assert start is not None
    return start.astimezone(tz).strftime("%Y-%m")


def previous_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def invoice_id(tenant_id: str, period: str, generation: int = 0) -> str:
    """``in_`` and a BLAKE2b hash of (tenant, period, generation): the same for every run.
    ``generation`` is 0 until the period's invoice is voided; each re-bill takes the next."""
    digest = hashlib.blake2b(f"{tenant_id}\x00{period}\x00{generation}".encode(), digest_size=12).hexdigest()
    return f"in_{digest}"


def format_number(prefix: str, seq: int) -> str:
    """``TG-000042``: the prefix and the gap-free sequence, zero-padded to 6 digits (wider
    when it grows past them)."""
    return f"{prefix}-{seq:06d}"


def doc_text(doc: dict[str, Any]) -> str:
    """An invoice document as the store keeps it: compact JSON. Money in a document is decimal
    strings, so a float anywhere in it is a mistake that would round money: TypeError (as
    ``json`` raises for a Decimal). Integers (counts, exponents) are fine."""
    stack: list[Any] = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, float):
            raise TypeError(f"an invoice document holds the float {value!r}: money is decimal strings")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class StoredInvoice:
    id: str
    tenant_id: str
    period: str  # YYYY-MM in the tenant's zone
    status: InvoiceStatus
    currency: str
    doc: dict[str, Any]  # the invoice JSON (money as decimal strings), as GET returns it
    created_at: datetime
    updated_at: datetime
    finalize_after: datetime | None = None  # a draft's end of grace
    number: str | None = None
    issued_at: datetime | None = None
    run_id: str | None = None
    version: int = 1  # a draft's replacements are conditional on it
    delivered: bool = False  # issued: documents written and invoice.ready published
    generation: int = 0  # a period billed again after a void: 1, 2, ...

    def replaced(self, **changes: Any) -> StoredInvoice:
        return replace(self, **changes)


class RunStatus(str, Enum):
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class InvoiceRun:
    id: str
    period: str
    created_at: datetime
    tenant_id: str | None = None  # a run for one tenant
    expected: int | None = None  # tenants fanned out (None until the fan-out finishes)
    invoices: int = 0  # tenants billed (a draft made or found)
    skipped: int = 0  # tenants with nothing to bill
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)  # {tenant_id, error}, the first few

    @property
    def status(self) -> RunStatus:
        done = self.expected is not None and self.invoices + self.skipped + self.failed >= self.expected
        return RunStatus.DONE if done else RunStatus.RUNNING
