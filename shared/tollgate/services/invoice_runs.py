"""Invoice runs: which tenants to bill, fanned out over the invoice queue, one message per
tenant, so 10,000 tenants never run in one Lambda.

Three message kinds on the queue, each idempotent, so SQS's redeliveries are harmless:
- ``fanout``: list the tenants with a plan (those whose period ended after ``ended_after``,
  for the hourly run) and queue one ``bill`` each; then record how many.
- ``bill``: ``InvoiceService.bill`` (a draft made or refreshed), its outcome recorded once
  per (run, tenant) by the store.
- ``finalize``: ``InvoiceService.finalize`` (issue, then deliver).

The hourly job (``scheduled``) runs every hour: near a month boundary (a tenant's month ends
at its local midnight, between UTC-12 and UTC+14) it queues a ``fanout`` of the tenants whose
period ended in the two hours before the scheduled time (an hour missed is caught by the
next run; billing twice is a no-op); every hour it queues a ``finalize`` per draft past its
grace and per issued invoice not yet delivered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tollgate.domain import periods
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed
from tollgate.domain.invoices import InvoiceRun, is_period, period_bounds, period_of, previous_period
from tollgate.domain.records import Tenant

from .invoicing import InvoiceService
from .ports import Clock, InvoiceStore, TenantRepository, UsageQueue

LOOKBACK = timedelta(hours=2)
"""The hourly run bills periods that ended this long before its scheduled time."""
EARLIEST_OFFSET, LATEST_OFFSET = timedelta(hours=14), timedelta(hours=12)
"""The zones' extremes (Pacific/Kiritimati, UTC+14; Etc/GMT+12, UTC-12): every tenant's month
ends within [UTC month start - 14 h, UTC month start + 12 h]."""
LAST_ZONE = ZoneInfo("Etc/GMT+12")  # UTC-12: where a month ends last
PAGE = 500


class InvoiceQueueError(RuntimeError):
    """Some messages could not be queued; the caller retries (every message is idempotent)."""


@dataclass(frozen=True)
class JobReport:
    fanout: bool
    finalize: int
    deliver: int

    def summary(self) -> dict[str, Any]:
        return {"fanout": self.fanout, "finalize": self.finalize, "deliver": self.deliver}


class InvoiceRuns:
    def __init__(
        self,
        store: InvoiceStore,
        tenants: TenantRepository,
        invoices: InvoiceService,
        queue: UsageQueue,
        clock: Clock,
    ) -> None:
        self._store, self._tenants, self._invoices, self._queue, self._clock = store, tenants, invoices, queue, clock

    # ---------------------------------------------------------------- starting
    def start(self, period: str, tenant_id: str | None = None) -> InvoiceRun:
        """``POST /v1/invoice-runs``: ended periods only (422 naming ``period``)."""
        if not is_period(period):
            raise ValidationFailed("period must be YYYY-MM", [FieldError("period", "must be YYYY-MM")])
        if tenant_id is not None:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                raise ValidationFailed(f"tenant {tenant_id!r} not found", [FieldError("tenant", "no such tenant")])
            self._invoices.check_ended(tenant, period)
        else:
            _, end = period_bounds(period, LAST_ZONE)
            if self._clock.now() < end:
                raise ValidationFailed(
                    f"period {period} has not ended in every zone",
                    [FieldError("period", f"ends everywhere at {end.isoformat()}; only ended periods are billed")],
                )
        run = InvoiceRun(id=f"run_{uuid.uuid4().hex}", period=period, created_at=self._clock.now(), tenant_id=tenant_id)
        self._store.create_run(run)
        self._send([{"kind": "fanout", "run": run.id, "period": period, "tenant": tenant_id}])
        return run

    def get(self, run_id: str) -> InvoiceRun:
        run = self._store.get_run(run_id, consistent=True)
        if run is None:
            raise NotFound(f"invoice run {run_id!r} not found")
        return run

    def scheduled(self, as_of: datetime) -> JobReport:
        """The hourly job, for the scheduled time ``as_of`` (a retry keeps it)."""
        as_of = as_of.astimezone(UTC)
        fanout = False
        month_start = periods.window_start(as_of + EARLIEST_OFFSET, periods.Window.MONTH, ZoneInfo("UTC"))
        assert month_start is not None
        if month_start - EARLIEST_OFFSET <= as_of < month_start + LATEST_OFFSET + LOOKBACK:
            period = previous_period(period_of(month_start, ZoneInfo("UTC")))
            run = InvoiceRun(id=f"run_{as_of:%Y%m%dT%H}", period=period, created_at=self._clock.now())
            self._store.create_run(run)  # False on a retry: the same run
            ended_after = (as_of - LOOKBACK).isoformat()
            self._send([{"kind": "fanout", "run": run.id, "period": period, "ended_after": ended_after}])
            fanout = True
        due, undelivered = self._invoices.finish_due()
        self._send([{"kind": "finalize", "invoice": i} for i in dict.fromkeys(due + undelivered)])
        return JobReport(fanout, len(due), len(undelivered))

    # ---------------------------------------------------------------- the worker
    def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "fanout":
            self._fanout(message)
        elif kind == "bill":
            self._bill(message)
        elif kind == "finalize":
            self._invoices.finalize(message["invoice"])
        else:
            raise ValueError(f"unknown invoice message kind {kind!r}")

    def _fanout(self, message: dict[str, Any]) -> None:
        run_id, period = message["run"], message["period"]
        ended_after = datetime.fromisoformat(message["ended_after"]) if message.get("ended_after") else None
        now = self._clock.now()

        def due(t: Tenant) -> bool:
            if t.plan is None:
                return False  # no plan: never invoiced
            _, end = period_bounds(period, periods.zone(t.timezone))
            return end <= now and (ended_after is None or end > ended_after)

        count = 0
        for page in self._pages(message.get("tenant")):
            bills = [{"kind": "bill", "run": run_id, "period": period, "tenant": t.id} for t in page if due(t)]
            self._send(bills)
            count += len(bills)
        self._store.set_run_expected(run_id, count)

    def _pages(self, tenant_id: str | None) -> Iterator[list[Tenant]]:
        if tenant_id is not None:
            tenant = self._tenants.get(tenant_id)
            yield [tenant] if tenant is not None else []
            return
        cursor = None
        while True:
            tenants, cursor = self._tenants.list(PAGE, cursor)
            yield tenants
            if cursor is None:
                return

    def _bill(self, message: dict[str, Any]) -> None:
        run_id, tenant_id = message["run"], message["tenant"]
        try:
            outcome = self._invoices.bill(tenant_id, message["period"], run_id)
        except Exception as exc:
            self._store.record_outcome(run_id, tenant_id, "failed", f"{type(exc).__name__}: {exc}"[:300])
            raise  # the queue redelivers; a later success replaces the failure
        self._store.record_outcome(run_id, tenant_id, outcome)

    def _send(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        report = self._queue.send([json.dumps(m, separators=(",", ":")) for m in messages])
        if report.failed:
            raise InvoiceQueueError(f"{len(report.failed)} invoice messages not queued: {report.last_error}")
