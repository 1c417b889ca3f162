"""Tenant health: computed from the quota snapshot, stored (``HealthStore``), and read with the
tenants (``GET /v1/tenants`` and ``/v1/tenants/{id}``), including their filters.

``refresh`` is called by the alerts path for the tenants whose level may have moved
(``Evaluation.health``) and by the sweep; ``refresh_unhealthy`` is the sweep's way back to
healthy for a tenant whose windows reset with no new usage (it costs a query per unhealthy
level, so it grows with unhealthy tenants, not all tenants).

The filters are served by the stored health, never by recomputing a tenant:

- ``health_status`` caution, warning or critical, or ``has_overages=true`` (which implies
  critical): a query of the ``by_status`` index, then the page's tenants (one batch read);
- ``health_status=healthy``, ``has_overages=false`` or ``plan`` alone: a walk of the tenant
  list, dropping the tenants whose stored health does not match (a tenant never evaluated is
  healthy without overages);
- ``q`` (a prefix of the id or the name, any case), with or without the others: a walk of the
  tenants the search indexes match, the other filters applied to them.

A filtered page may hold fewer than ``limit`` tenants while ``next_cursor`` is not null: each
call reads at most ``MAX_ROUNDS`` pages of the underlying list. Follow ``next_cursor`` until it
is null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from tollgate.domain.health import LEVELS, TenantHealth, assess, matches, may_match
from tollgate.domain.quota import Status
from tollgate.domain.records import Tenant

from .ports import Clock, HealthStore, TenantRepository
from .quotas import QuotaService, TenantQuotas

BATCH = 100
"""Tenants per snapshot in a refresh (the snapshot reads their counters 100 keys a request)."""
MAX_ROUNDS = 10
"""Pages of the underlying list one filtered page may read."""

Row = tuple[Tenant, TenantHealth]
X = TypeVar("X")


class HealthService:
    def __init__(self, store: HealthStore, quotas: QuotaService, tenants: TenantRepository, clock: Clock) -> None:
        self._store, self._quotas, self._tenants, self._clock = store, quotas, tenants, clock

    # -------------------------------------------------------------- computing
    def refresh(self, tenant_ids: Iterable[str]) -> list[TenantHealth]:
        """Compute and store the health of these tenants (unknown ids are skipped): the worst
        status over their effective limits in the current windows, and any overage."""
        ids = sorted(set(tenant_ids))
        out: list[TenantHealth] = []
        for i in range(0, len(ids), BATCH):
            chunk = ids[i : i + BATCH]
            found = self._tenants.get_many(chunk)
            out += self.record(self._quotas.snapshot([found[t] for t in chunk if t in found]))
        return out

    def record(self, snapshot: Sequence[TenantQuotas]) -> list[TenantHealth]:
        """Store the health a quota snapshot shows (the sweep's, read once for alerts and health).
        A health that did not change is not written again (one batch read instead of a write per
        tenant), so ``updated_at`` is when it last changed."""
        at = self._clock.now()
        out = [assess(quotas.tenant.id, quotas.states, at) for quotas in snapshot]
        stored = self._store.get_many([h.tenant_id for h in out]) if out else {}
        for health in out:
            before = stored.get(health.tenant_id)
            if before is None or (before.status, before.has_overages) != (health.status, health.has_overages):
                self._store.put(health)
        return [self._latest(h, stored.get(h.tenant_id)) for h in out]

    @staticmethod
    def _latest(health: TenantHealth, before: TenantHealth | None) -> TenantHealth:
        unchanged = before is not None and (before.status, before.has_overages) == (health.status, health.has_overages)
        return before if unchanged and before is not None else health

    def unhealthy_ids(self) -> list[str]:
        """Every tenant stored above healthy: the sweep re-reads them, so windows that reset
        bring them back to healthy."""
        ids: list[str] = []
        for status in LEVELS[1:]:
            cursor: str | None = None
            while True:
                page, cursor = self._store.query(status, BATCH, cursor)
                ids += [h.tenant_id for h in page]
                if cursor is None:
                    break
        return ids

    def refresh_unhealthy(self) -> list[TenantHealth]:
        """Refresh every tenant stored above healthy."""
        return self.refresh(self.unhealthy_ids())

    # -------------------------------------------------------------- reading
    def of(self, tenant_id: str) -> TenantHealth:
        return self._store.get_many([tenant_id]).get(tenant_id) or TenantHealth.never_evaluated(tenant_id)

    def with_health(self, tenants: Sequence[Tenant]) -> list[Row]:
        stored = self._store.get_many([t.id for t in tenants]) if tenants else {}
        return [(t, stored.get(t.id) or TenantHealth.never_evaluated(t.id)) for t in tenants]

    def list_tenants(
        self,
        limit: int,
        cursor: str | None,
        *,
        status: Status | None = None,
        has_overages: bool | None = None,
        plan: str | None = None,
        q: str | None = None,
    ) -> tuple[list[Row], str | None]:
        """Tenants with their health, filtered (see the module's docstring). ValueError for a
        cursor of another list."""
        if not may_match(status, has_overages):
            return [], None

        def keep(page: list[Tenant]) -> list[Row]:
            rows = self.with_health([t for t in page if plan is None or t.plan == plan])
            return [r for r in rows if matches(r[1], status, has_overages)]

        if q is not None:
            return _collect(lambda n, c: self._tenants.search(q, n, c), keep, limit, cursor)
        if (status is not None and status is not Status.HEALTHY) or has_overages is True:
            at = status or Status.CRITICAL

            def from_index(n: int, c: str | None) -> tuple[list[TenantHealth], str | None]:
                return self._store.query(at, n, c)

            return _collect(from_index, lambda page: self._indexed(page, has_overages, plan), limit, cursor)
        return _collect(self._tenants.list, keep, limit, cursor)

    def _indexed(self, page: list[TenantHealth], has_overages: bool | None, plan: str | None) -> list[Row]:
        healths = [h for h in page if has_overages is None or h.has_overages is has_overages]
        tenants = self._tenants.get_many([h.tenant_id for h in healths]) if healths else {}
        return [
            (tenants[h.tenant_id], h)
            for h in healths
            if h.tenant_id in tenants and (plan is None or tenants[h.tenant_id].plan == plan)
        ]


def _collect(
    fetch: Callable[[int, str | None], tuple[list[X], str | None]],
    keep: Callable[[list[X]], list[Row]],
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    """Up to ``limit`` rows: each round reads only as many items as rows are missing, so the
    page never ends inside what was read, and the cursor resumes after the last item read."""
    rows: list[Row] = []
    for _ in range(MAX_ROUNDS):
        page, cursor = fetch(limit - len(rows), cursor)
        rows += keep(page)
        if cursor is None or len(rows) >= limit:
            break
    return rows, cursor
