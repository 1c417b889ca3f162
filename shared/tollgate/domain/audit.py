"""The audit trail of plan, limit and invoice changes. Pure; no AWS.

Every change of a plan, of a tenant's plan, or of a tenant's limit overrides is one entry:
who (the API key id, or ``system`` for the seeded catalog), when, what (``action``), the
state before and after, and the reason given. Entries of one subject (a tenant or a plan)
sort by time; the API lists them newest first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SYSTEM_ACTOR = "system"


class Action:
    PLAN_PUT = "plan.put"
    TENANT_CREATE = "tenant.create"
    TENANT_PLAN = "tenant.plan"
    TENANT_LIMITS = "tenant.limits"
    TENANT_DISCOUNTS = "tenant.discounts"
    INVOICE_ISSUE = "invoice.issue"
    INVOICE_PAY = "invoice.pay"
    INVOICE_VOID = "invoice.void"
    INVOICE_OVERDUE = "invoice.overdue"
    INVOICE_LATE_FEE = "invoice.late_fee"


def tenant_subject(tenant_id: str) -> str:
    return f"tenant#{tenant_id}"


def plan_subject(plan_id: str) -> str:
    return f"plan#{plan_id}"


def sort_key(at: datetime, entry_id: str) -> str:
    """Fixed-width UTC with microseconds, then a random id: text order is time order."""
    return f"{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{entry_id}"


@dataclass(frozen=True)
class AuditEntry:
    subject: str
    at: datetime
    actor: str
    action: str
    before: Any
    after: Any
    reason: str | None = None
    id: str = field(default_factory=lambda: secrets.token_hex(6))

    @property
    def sk(self) -> str:
        return sort_key(self.at, self.id)

    @property
    def kind(self) -> str:
        return self.subject.split("#", 1)[0]

    @property
    def subject_id(self) -> str:
        return self.subject.split("#", 1)[1]
