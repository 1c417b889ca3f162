"""A tenant's health: the worst status over its effective limits in their current windows, and
whether any of those windows is strictly over its limit. Pure; no AWS.

The levels are ``/v1/quotas``' (``quota.status_for``): healthy, caution, warning, critical.
``has_overages`` implies ``critical``: usage strictly above the limit is a ratio above 1 (and a
limit of 0 is always critical). A tenant with no limits, or never evaluated, is healthy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .quota import LimitState, Status

LEVELS: tuple[Status, ...] = (Status.HEALTHY, Status.CAUTION, Status.WARNING, Status.CRITICAL)
"""Ascending severity."""


def worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=LEVELS.index, default=Status.HEALTHY)


@dataclass(frozen=True)
class TenantHealth:
    tenant_id: str
    status: Status
    has_overages: bool
    updated_at: datetime | None  # None: never evaluated

    @classmethod
    def never_evaluated(cls, tenant_id: str) -> TenantHealth:
        return cls(tenant_id, Status.HEALTHY, False, None)


def assess(tenant_id: str, states: Iterable[LimitState], at: datetime) -> TenantHealth:
    """The health that ``states`` (every effective limit in its current window) give."""
    listed = list(states)
    return TenantHealth(tenant_id, worst(s.status for s in listed), any(s.exceeded for s in listed), at)


def may_match(status: Status | None, has_overages: bool | None) -> bool:
    """False when no tenant can match both filters: overages exist only at ``critical``."""
    return not (has_overages is True and status is not None and status is not Status.CRITICAL)


def matches(health: TenantHealth, status: Status | None, has_overages: bool | None) -> bool:
    return (status is None or health.status is status) and (has_overages is None or health.has_overages is has_overages)
