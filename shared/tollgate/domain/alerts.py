"""Threshold and overage alerts: what fires, its identity and its document. Pure; no AWS.

A limit (meter, window, limit value) has ``thresholds`` (fractions, default 0.8 and 1.0).
In one window of the tenant's zone:

- threshold ``t`` is *crossed* when the window's usage goes from below ``t x limit`` to at
  least ``t x limit`` (``usage.threshold_reached``);
- the limit is *passed* when usage goes from at most ``limit`` to strictly above it
  (``billing.over_limit``, once per window, with ``overage = used - limit``).

``crossings`` is the edge rule the real-time path applies to a counter's old and new value;
``standing`` is the level rule the sweep applies to a value alone (everything the value has
reached), for what the real-time path missed. Both name each alert by ``alert_id``: a hash of
(tenant, meter, window, window start, limit value, type, threshold), so the same crossing
always has the same id whichever path finds it, and a new window or a changed limit value
re-arms every threshold. One alert per threshold: a jump past several fires each of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from . import storage_keys as keys
from .alert_types import (
    BILLING_OVER_LIMIT,
    INVOICE_OVERDUE,
    INVOICE_READY,
    INVOICE_REMINDER,
    OPERATOR_ALERT_TYPES,
    REPORT_READY,
    USAGE_THRESHOLD_REACHED,
)
from .numbers import json_number
from .periods import LIFETIME_KEY, Window, parse_utc_key, window_end
from .plans import Limit, Plan
from .pricing import Model, money_text, price


class AlertType(str, Enum):
    """Every alert type, the one list: ``GET /v1/notifications?type=`` accepts these values;
    subscriptions' ``types`` accept those of ``alert_types.ALERT_TYPES`` (tenants' alerts)."""

    THRESHOLD_REACHED = USAGE_THRESHOLD_REACHED
    OVER_LIMIT = BILLING_OVER_LIMIT
    SYSTEM_COUNTER_DRIFT = "system.counter_drift"  # the daily reconciliation's operator alert
    INVOICE_READY = INVOICE_READY  # an invoice issued: its number, total and links
    INVOICE_OVERDUE = INVOICE_OVERDUE  # an issued invoice past its due date
    INVOICE_REMINDER = INVOICE_REMINDER  # a payment reminder, once per offset from the due date
    REPORT_READY = REPORT_READY  # the monthly report written: the operators' news, its links


def for_operators(alert_type: str) -> bool:
    """``system.*`` alerts (the reconciliation's drifts) and ``report.ready`` are the operators'
    news: on their topic and in the admins' all-tenants feed, never on a tenant's topic or in
    its list."""
    return alert_type.startswith("system.") or alert_type in OPERATOR_ALERT_TYPES


class Severity(str, Enum):
    INFO = "info"  # invoice.ready
    WARNING = "warning"
    CRITICAL = "critical"


ONE = Decimal(1)


@dataclass(frozen=True)
class Trigger:
    """One alert a value fires on a limit: a threshold reached, or the limit passed."""

    type: AlertType
    threshold: Decimal | None  # None for over_limit

    @property
    def severity(self) -> Severity:
        if self.type is AlertType.OVER_LIMIT or (self.threshold is not None and self.threshold >= ONE):
            return Severity.CRITICAL
        return Severity.WARNING


def crossings(limit: Limit, old: Decimal, new: Decimal) -> list[Trigger]:
    """What a change of the window's usage from ``old`` to ``new`` crosses (edges only)."""
    if new <= old:
        return []
    out = [
        Trigger(AlertType.THRESHOLD_REACHED, t) for t in sorted(set(limit.thresholds)) if old < t * limit.limit <= new
    ]
    if old <= limit.limit < new:
        out.append(Trigger(AlertType.OVER_LIMIT, None))
    return out


def standing(limit: Limit, used: Decimal) -> list[Trigger]:
    """Everything ``used`` has reached: the alerts a window at this usage has had, or owes."""
    return crossings(limit, Decimal("-Infinity"), used) if used > 0 else []


# ------------------------------------------------------------------ which window a counter is
@dataclass(frozen=True)
class CounterWindow:
    """A total counter item, read back from its key."""

    tenant: str
    meter: str
    window: Window
    window_key: str  # periods.utc_key of the window's start, or "lifetime"


def counter_window(pk: str, sk: str) -> CounterWindow | None:
    """The window of a total counter item (``T#<tenant>#<meter>#<window>``); None for any
    other item of the counters table (groups, the day's quarantine count, ...)."""
    parts = pk.split("#")
    if len(parts) != 4 or parts[0] != "T":
        return None
    try:
        window = Window(parts[3])
    except ValueError:
        return None
    if pk != keys.total_pk(parts[1], parts[2], window):
        return None
    return CounterWindow(parts[1], parts[2], window, sk)


@dataclass(frozen=True)
class Span:
    start: datetime | None
    end: datetime | None

    @staticmethod
    def of(window: Window, window_key: str, tz: ZoneInfo) -> Span:
        if window is Window.LIFETIME or window_key == LIFETIME_KEY:
            return Span(None, None)
        start = parse_utc_key(window_key).astimezone(tz)
        return Span(start, window_end(start, window, tz))


# ------------------------------------------------------------------ identity and document
def alert_id(tenant: str, limit: Limit, window_key: str, trigger: Trigger) -> str:
    """The same crossing always has the same id (``al_`` and 32 hex digits)."""
    threshold = "" if trigger.threshold is None else json_number(trigger.threshold.normalize())
    identity = "\x1f".join(
        (
            tenant,
            limit.meter,
            limit.window.value,
            window_key,
            str(json_number(limit.limit.normalize())),
            trigger.type.value,
            str(threshold),
        )
    )
    return "al_" + hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()


def _text(d: Decimal) -> Any:
    return json_number(d)


def alert_document(
    *,
    tenant: str,
    limit: Limit,
    window_key: str,
    trigger: Trigger,
    used: Decimal,
    tz: ZoneInfo,
    occurred_at: datetime,
    plan: Plan | None = None,
) -> dict[str, Any]:
    """The alert, the same JSON in SNS and in ``GET /v1/notifications``. With the tenant's
    ``plan``, an over_limit alert carries the overage's cost (``overage_cost``)."""
    span = Span.of(limit.window, window_key, tz)
    ratio = used / limit.limit if limit.limit > 0 else ONE
    doc: dict[str, Any] = {
        "id": alert_id(tenant, limit, window_key, trigger),
        "type": trigger.type.value,
        "severity": trigger.severity.value,
        "tenant_id": tenant,
        "meter": limit.meter,
        "window": limit.window.value,
        "window_start": span.start.isoformat() if span.start else None,
        "window_end": span.end.isoformat() if span.end else None,
        "limit": _text(limit.limit),
        "used": _text(used),
        "percent": _text((ratio * 100).quantize(Decimal("0.01"))),
        "thresholds": [_text(trigger.threshold)] if trigger.threshold is not None else [],
        "enforcement": limit.enforcement.value,
        "occurred_at": occurred_at.astimezone(tz).isoformat(),
    }
    if trigger.type is AlertType.OVER_LIMIT:
        doc["overage"] = _text(used - limit.limit)
        cost = overage_cost(plan, limit, used)
        if cost is not None:
            doc["overage_cost"], doc["currency"] = cost
    return doc


def overage_cost(plan: Plan | None, limit: Limit, used: Decimal) -> tuple[str, str] | None:
    """What the usage above a monthly limit costs, when the plan prices exactly that: an
    unfiltered ``per_unit`` charge on the meter whose ``free_units`` equal the limit (usage
    above the limit at the unit amount). The amount as invoice money text, and the currency."""
    if plan is None or limit.window is not Window.MONTH:
        return None
    for charge in plan.charges:
        if (
            charge.meter == limit.meter
            and charge.filter is None
            and charge.model is Model.PER_UNIT
            and charge.free_units == limit.limit
        ):
            return money_text(price(charge, used).amount, plan.currency), plan.currency
    return None


def subject(doc: dict[str, Any]) -> str:
    """An SNS Subject (under 100 characters, one line)."""
    if doc["type"] == REPORT_READY:
        return f"Tollgate: the report of {doc['period']} is ready ({doc['tenants']} tenants)"[:99]
    if doc["type"].startswith("invoice."):
        what = {"invoice.ready": "", "invoice.overdue": " overdue", "invoice.reminder": " due"}[doc["type"]]
        amount = doc.get("amount_due") or doc["total"]
        text = f"Tollgate: invoice {doc['number']}{what} for {doc['tenant_id']}: {amount} {doc['currency']}"
        return text if len(text) < 100 else text[:96] + "..."
    if doc["type"] == AlertType.SYSTEM_COUNTER_DRIFT.value:
        what = "counter drift"
    elif doc["type"] == AlertType.OVER_LIMIT.value:
        what = "over its limit"
    else:
        what = f"at {doc['percent']}% of its limit"
    text = f"Tollgate: {doc['tenant_id']} {doc['meter']} ({doc['window']}) {what}"
    return text if len(text) < 100 else text[:96] + "..."


def limits_for(limits: Sequence[Limit], meter: str, window: Window) -> list[Limit]:
    return [lim for lim in limits if lim.meter == meter and lim.window is window]
