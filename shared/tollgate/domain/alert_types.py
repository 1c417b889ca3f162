"""The alert types: the ``type`` of an alert document and of its SNS message attribute, which
tenants' subscriptions filter on. Pure; no AWS.

The alert evaluator raises these; ``POST /v1/tenants/{id}/subscriptions`` accepts them in
``types`` (its default is all of them). ``invoice.ready`` is raised when an invoice is issued
(``services.invoicing``); ``invoice.overdue`` and ``invoice.reminder`` by the daily invoice job
(``services.invoice_lifecycle``).
"""

from __future__ import annotations

USAGE_THRESHOLD_REACHED = "usage.threshold_reached"
BILLING_OVER_LIMIT = "billing.over_limit"
INVOICE_READY = "invoice.ready"
INVOICE_OVERDUE = "invoice.overdue"
INVOICE_REMINDER = "invoice.reminder"
REPORT_READY = "report.ready"

ALERT_TYPES: tuple[str, ...] = (
    USAGE_THRESHOLD_REACHED,
    BILLING_OVER_LIMIT,
    INVOICE_READY,
    INVOICE_OVERDUE,
    INVOICE_REMINDER,
)
"""Every alert type a tenant can subscribe to, in the order the API lists them."""


OPERATOR_ALERT_TYPES: tuple[str, ...] = (REPORT_READY,)
"""Operators' alerts that name no tenant (besides the ``system.*`` ones): on the operators'
topic and in the admins' feed only. ``report.ready``: the monthly report is written
(``services.reports``)."""


def is_alert_type(value: str) -> bool:
    return value in ALERT_TYPES
