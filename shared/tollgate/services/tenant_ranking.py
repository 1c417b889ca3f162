"""``GET /v1/tenants?sort=usage:<meter>``: tenants by their usage of a sum or count meter in the
current operator month, most first (docs/analytics.md, "Tenants by usage").

The order is the roll-ups' month ranking (an index Query, ``limit`` items a page, paged with
its own cursor), so it is as fresh as the roll-up job (10 minutes) and lists the tenants with
usage in the month; a tenant with none is not in a sorted list. ``q`` (a prefix of the id or the
name, any case), ``plan``, ``health_status`` and ``has_overages`` filter each page (a filtered
page may be short while ``next_cursor`` is not null, as for the unsorted list).
"""

from __future__ import annotations

from tollgate.domain.health import matches, may_match
from tollgate.domain.quota import Status
from tollgate.domain.records import Tenant

from .analytics import AnalyticsService
from .health import MAX_ROUNDS, HealthService, Row
from .ports import TenantRepository


class TenantRanking:
    def __init__(self, analytics: AnalyticsService, health: HealthService, tenants: TenantRepository) -> None:
        self._analytics, self._health, self._tenants = analytics, health, tenants

    def list_by_usage(
        self,
        meter: str,
        limit: int,
        cursor: str | None,
        *,
        status: Status | None = None,
        has_overages: bool | None = None,
        plan: str | None = None,
        q: str | None = None,
    ) -> tuple[list[Row], str | None]:
        """ValueError for a cursor of another list; ``ValidationFailed`` (naming ``sort``) for a
        meter that is not a sum or count meter."""
        self._analytics.check_sortable(meter)
        if not may_match(status, has_overages):
            return [], None
        rows: list[Row] = []
        for _ in range(MAX_ROUNDS):
            ranked, cursor = self._analytics.ranked_tenants(meter, limit - len(rows), cursor)
            found = self._tenants.get_many([t for t, _ in ranked]) if ranked else {}
            page = [found[t] for t, _ in ranked if t in found and _keep(found[t], plan, q)]
            rows += [r for r in self._health.with_health(page) if matches(r[1], status, has_overages)]
            if cursor is None or len(rows) >= limit:
                break
        return rows, cursor


def _keep(tenant: Tenant, plan: str | None, q: str | None) -> bool:
    if plan is not None and tenant.plan != plan:
        return False
    prefix = None if q is None else q.casefold()
    return prefix is None or tenant.id.casefold().startswith(prefix) or tenant.name.casefold().startswith(prefix)
