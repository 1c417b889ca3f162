"""The alert sweep (every 5 minutes, EventBridge Scheduler): re-evaluate the tenants active in
the current windows and raise, by the same ids, whatever the real-time path missed (while it
was failing, or past its stream's retries); refresh their health, which also brings tenants
back to healthy when their windows reset; and publish alerts stranded unpublished.

Which tenants: those that counted usage in this UTC hour or the previous one (the activity
index the real-time path keeps), and those whose stored health is not healthy. The sweep's
reads grow with those, never with all tenants (docs/alerts.md, "The sweep").

The sweep reads before it writes: the alerts the current values have reached are looked up by
id (``AlertService.new_only``), and only missing ones are stored, so a sweep that finds
nothing new writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tollgate.domain import periods
from tollgate.domain.alerts import alert_document, standing

from .alerts import AlertService
from .ports import Clock, TenantRepository
from .quotas import QuotaService, TenantQuotas

LOOKBACK = timedelta(hours=1)


class ActiveTenants(Protocol):
    def active(self, start: datetime, end: datetime) -> set[tuple[str, str]]:
        """(tenant, meter) pairs that counted usage in the UTC hours of [start, end)."""


@dataclass(frozen=True)
class SweepReport:
    tenants: int
    raised: int
    republished: int


class AlertSweep:
    def __init__(
        self,
        tenants: TenantRepository,
        quotas: QuotaService,
        alerts: AlertService,
        clock: Clock,
        *,
        activity: ActiveTenants,
        unhealthy: Callable[[], Iterable[str]] = tuple,
        on_snapshot: Callable[[list[TenantQuotas]], Any] | None = None,
    ) -> None:
        self._tenants, self._quotas, self._alerts, self._clock = tenants, quotas, alerts, clock
        self._activity, self._unhealthy, self._on_snapshot = activity, unhealthy, on_snapshot

    def run(self) -> SweepReport:
        now = self._clock.now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        ids = {tenant for tenant, _ in self._activity.active(hour - LOOKBACK, hour + timedelta(hours=1))}
        ids.update(self._unhealthy())
        tenants = [t for t in (self._tenants.get(i) for i in sorted(ids)) if t is not None]
        snapshot = self._quotas.snapshot(tenants)
        docs = [doc for quotas in snapshot for doc in self._standing(quotas, now)]
        report = self._alerts.raise_(self._alerts.new_only(docs))
        if self._on_snapshot is not None:
            self._on_snapshot(snapshot)
        republished = self._alerts.republish()
        return SweepReport(len(tenants), len(report.published), len(republished.published))

    @staticmethod
    def _standing(quotas: TenantQuotas, now: datetime) -> list[dict[str, Any]]:
        docs = []
        for state in quotas.states:
            for trigger in standing(state.limit, state.used):
                docs.append(
                    alert_document(
                        tenant=quotas.tenant.id,
                        limit=state.limit,
                        window_key=periods.utc_key(state.window.start),
                        trigger=trigger,
                        used=state.used,
                        tz=quotas.timezone,
                        occurred_at=now,
                        plan=quotas.plan,
                    )
                )
        return docs
