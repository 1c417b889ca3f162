"""The daily reconciliation: recount each active tenant's previous local day of sum and count
usage from what recorded it, and compare with the day counters (docs/alerts.md, "Reconciliation").

For every (tenant, meter) active in the hours of a tenant's local day that ended since the last
run (``domain.reconcile.days_ended``; the activity index says who was active), with a ``sum`` or
``count`` meter:

- **counted**: the day total ``T#<tenant>#<meter>#day`` at ``utc_key(day start)``;
- **recounted**: the raw-event log's events of the meter with a time in the day (the consumer
  logs every event it counts; a count meter counts each as 1), plus the consume records of that
  day total (``POST /v1/consume`` writes no log: its markers carry the amount and the day total
  they added to).

A measurement reads the counter before and after the recount; a counter that moved meanwhile is
measured again. A difference is reported only when two measurements in a row (``pause_s``
apart) agree on both values, so an event counted during the run is not a drift. Each drift is a
``CounterDrift`` metric and a ``system.counter_drift`` alert whose id depends only on the
tenant, meter, day and both values: a rerun publishes the same id.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

from tollgate.domain.counting import DECIMAL
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import zone
from tollgate.domain.reconcile import (
    HOUR,
    RUN_PERIOD,
    Drift,
    LocalDay,
    days_ended,
    hours_between,
    run_window,
)

from .catalog import Catalog
from .clock import parse_as_of
from .ports import ActivityIndex, Clock, DaySources

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

RECOUNTED = (Aggregation.SUM, Aggregation.COUNT)
"""max, latest and unique_count totals are not sums of events: the log cannot add them up."""

MAX_PAIRS = 20_000
"""(tenant, meter, day) checks per run. Beyond it the run logs how many it left out; which ones
changes every day (the order is a hash salted with the day), so none is left out for ever."""
WORKERS = 8
"""Tenants checked at once (each check is a few sequential DynamoDB calls)."""
MEASUREMENTS = 3
PAUSE_S = 2.0
"""Between two measurements of a pair: time for a message logged but not yet committed to commit."""
RESERVE_MS = 15_000
"""No tenant is started with less than this left of the invocation; the rest are skipped."""


@dataclass(frozen=True)
class DayCheck:
    """One tenant's local day, and its active sum and count meters."""

    tenant: str
    tz: ZoneInfo
    day: LocalDay
    meters: Mapping[str, Aggregation]


@dataclass
class CheckResult:
    check: DayCheck
    matched: list[str] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # the counter kept moving
    error: str | None = None
    skipped: bool = False  # out of time: not started


@dataclass
class ReconcileReport:
    as_of: datetime
    active_pairs: int = 0  # (tenant, meter) marked in the activity hours read
    pairs: int = 0  # (tenant, meter, day) to check: active sum and count meters of known tenants
    checked: int = 0
    matched: int = 0
    drifts: list[Drift] = field(default_factory=list)
    unsettled: list[tuple[str, str, str]] = field(default_factory=list)  # (tenant, meter, day key)
    capped: int = 0  # pairs not checked: over MAX_PAIRS
    skipped: int = 0  # pairs not checked: out of time
    errors: int = 0  # pairs whose check failed (logged)
    published: int = 0
    publish_failures: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "active_pairs": self.active_pairs,
            "pairs": self.pairs,
            "checked": self.checked,
            "matched": self.matched,
            "drifts": len(self.drifts),
            "unsettled": len(self.unsettled),
            "capped": self.capped,
            "skipped": self.skipped,
            "errors": self.errors,
            "published": self.published,
            "publish_failures": self.publish_failures,
        }


class AlertRaiser(Protocol):
    """``services.alerts.AlertService``: stores each alert once (its id) and publishes it."""

    def raise_(self, docs: Sequence[dict[str, Any]]) -> Any: ...


class ReconcileService:
    def __init__(
        self,
        activity: ActivityIndex,
        catalog: Catalog,
        sources: DaySources,
        alerts: AlertRaiser,
        clock: Clock,
        *,
        max_pairs: int = MAX_PAIRS,
        workers: int = WORKERS,
        pause_s: float = PAUSE_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._activity, self._catalog, self._sources = activity, catalog, sources
        self._alerts, self._clock = alerts, clock
        self._max_pairs, self._workers = max_pairs, max(1, workers)
        self._pause_s, self._sleep = pause_s, sleep

    def run(
        self, job: Mapping[str, Any], *, remaining_ms: Callable[[], int] | None = None, metrics: Any = None
    ) -> ReconcileReport:
        """The scheduled job: ``job`` is the schedule's Input (``{"job": "reconcile", "as_of": ...}``)."""
        as_of = parse_as_of(job["as_of"]) if job.get("as_of") else None
        return self.reconcile(as_of, remaining_ms=remaining_ms, metrics=metrics)

    def reconcile(
        self, as_of: datetime | None = None, *, remaining_ms: Callable[[], int] | None = None, metrics: Any = None
    ) -> ReconcileReport:
        """Check every tenant's local days that ended in ``(as_of - 1 day, as_of]`` (``as_of``:
        now by default)."""
        now = self._clock.now()
        as_of = (now if as_of is None else as_of).astimezone(UTC)
        report = ReconcileReport(as_of)
        checks = self._plan(as_of, now, report)
        todo = self._cap(checks, as_of, report)
        for result in self._check_all(todo, remaining_ms):
            self._add(report, result)
        if report.skipped:
            log.warning("reconciliation out of time: pairs left out", extra={"skipped": report.skipped})
        self._publish(report, now)
        _emit(metrics, report)
        return report

    # -------------------------------------------------------------- who to check
    def _plan(self, as_of: datetime, now: datetime, report: ReconcileReport) -> list[DayCheck]:
        """Each active tenant's covered days, with the sum and count meters active in their hours."""
        start, end = run_window(as_of)
        hours: dict[str, dict[datetime, set[str]]] = {}  # tenant -> hour -> meters
        active: set[tuple[str, str]] = set()
        for hour in hours_between(start, min(end, now)):
            pairs = self._activity.active(hour, hour + HOUR)
            active |= pairs
            for tenant_id, meter in pairs:
                hours.setdefault(tenant_id, {}).setdefault(hour, set()).add(meter)
        report.active_pairs = len(active)

        def tenant_checks(tenant_id: str) -> list[DayCheck]:  # the catalog's reads, on the pool
            tenant = self._catalog.tenant(tenant_id)
            if tenant is None:
                log.info("an active tenant no longer exists; not reconciled", extra={"tenant": tenant_id})
                return []
            tz, out = zone(tenant.timezone), []
            for day in days_ended(tz, as_of - RUN_PERIOD, as_of):
                lo, hi = day.activity_hours(now)
                meters = set().union(*(hours[tenant_id].get(h, set()) for h in hours_between(lo, hi)))
                kinds = {m: a for m in sorted(meters) if (a := self._aggregation(m)) is not None}
                if kinds:
                    out.append(DayCheck(tenant_id, tz, day, kinds))
            return out

        checks = [c for found in self._map(tenant_checks, sorted(hours)) for c in found]
        report.pairs = sum(len(c.meters) for c in checks)
        return checks

    def _map(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        if self._workers == 1 or len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def _aggregation(self, meter_key: str) -> Aggregation | None:
        meter = self._catalog.meter(meter_key)
        return meter.aggregation if meter is not None and meter.aggregation in RECOUNTED else None

    def _cap(self, checks: list[DayCheck], as_of: datetime, report: ReconcileReport) -> list[DayCheck]:
        salt = as_of.date().isoformat()

        def order(c: DayCheck) -> bytes:
            return hashlib.blake2b(f"{salt}|{c.tenant}|{c.day.key}".encode(), digest_size=8).digest()

        todo, pairs = [], 0
        for check in sorted(checks, key=order):
            if pairs + len(check.meters) > self._max_pairs:
                report.capped += len(check.meters)
                continue
            pairs += len(check.meters)
            todo.append(check)
        if report.capped:
            log.warning(
                "reconciliation capped: pairs left out this run",
                extra={"max_pairs": self._max_pairs, "left_out": report.capped},
            )
        return todo

    # -------------------------------------------------------------- checking
    def _check_all(self, todo: list[DayCheck], remaining_ms: Callable[[], int] | None) -> list[CheckResult]:
        def one(check: DayCheck) -> CheckResult:
            if remaining_ms is not None and remaining_ms() < RESERVE_MS:
                return CheckResult(check, skipped=True)
            try:
                return self._check(check)
            except Exception as exc:
                log.exception("reconciliation of a day failed", extra={"tenant": check.tenant, "day": check.day.key})
                return CheckResult(check, error=f"{type(exc).__name__}: {exc}")

        return self._map(one, todo)

    def _check(self, check: DayCheck) -> CheckResult:
        """Measure until each meter matches, or drifts the same way twice in a row."""
        result = CheckResult(check)
        pending = list(check.meters)
        seen: dict[str, tuple[Decimal, Decimal]] = {}
        for attempt in range(MEASUREMENTS):
            if attempt:
                self._sleep(self._pause_s)
            measured = self._measure(check, pending)
            still = []
            for meter in pending:
                values = measured[meter]
                if values is None:  # the counter moved during the recount
                    seen.pop(meter, None)
                    still.append(meter)
                    continue
                counted, recounted, consumed = values
                if counted == recounted:
                    result.matched.append(meter)
                elif seen.get(meter) == (counted, recounted):
                    result.drifts.append(Drift(check.tenant, meter, check.tz, check.day, counted, recounted, consumed))
                else:
                    seen[meter] = (counted, recounted)
                    still.append(meter)
            pending = still
            if not pending:
                break
        result.unsettled = pending
        return result

    def _measure(self, check: DayCheck, meters: list[str]) -> dict[str, tuple[Decimal, Decimal, Decimal] | None]:
        """Per meter, ``(counted, recounted, consumed)``; None when the counter moved meanwhile."""
        key = check.day.key
        before = self._sources.counted(check.tenant, meters, key)
        consumed = {m: self._sources.consumed(check.tenant, m, key) for m in meters}
        logged = self._recount(check, meters)
        after = self._sources.counted(check.tenant, meters, key)
        return {
            m: (before[m], DECIMAL.add(logged[m], consumed[m]), consumed[m]) if before[m] == after[m] else None
            for m in meters
        }

    def _recount(self, check: DayCheck, meters: list[str]) -> dict[str, Decimal]:
        """The day's logged events of ``meters``, added up as the consumer counts them."""
        totals = dict.fromkeys(meters, Decimal(0))
        one, unreadable = Decimal(1), 0
        for event in self._sources.logged(check.tenant, check.day.start, check.day.end):
            meter = event.get("type")
            if meter not in totals:
                continue
            if check.meters[meter] is Aggregation.COUNT:
                totals[meter] = DECIMAL.add(totals[meter], one)
                continue
            try:
                value = Decimal(event["value"])
            except (KeyError, TypeError, ArithmeticError):
                value = Decimal("NaN")
            if not value.is_finite():  # the consumer never counts such an event: it cannot be added
                unreadable += 1
                continue
            totals[meter] = DECIMAL.add(totals[meter], value)
        if unreadable:
            log.error(
                "logged events without a readable value were not recounted",
                extra={"tenant": check.tenant, "day": check.day.key, "events": unreadable},
            )
        return totals

    @staticmethod
    def _add(report: ReconcileReport, result: CheckResult) -> None:
        c = result.check
        if result.skipped:
            report.skipped += len(c.meters)
            return
        if result.error is not None:
            report.errors += len(c.meters)
            return
        report.checked += len(c.meters)
        report.matched += len(result.matched)
        report.drifts += result.drifts
        report.unsettled += [(c.tenant, m, c.day.key) for m in result.unsettled]
        if result.unsettled:
            log.warning(
                "day totals kept changing during the recount; not reconciled",
                extra={"tenant": c.tenant, "day": c.day.key, "meters": result.unsettled},
            )

    # -------------------------------------------------------------- reporting
    def _publish(self, report: ReconcileReport, now: datetime) -> None:
        for drift in sorted(report.drifts, key=lambda d: (d.tenant, d.meter, d.day.key)):
            payload = drift.payload(now)
            log.error("counter drift", extra={k: v for k, v in payload.items() if k not in ("type", "severity")})
            try:
                raised = self._alerts.raise_([payload])
            except Exception:
                report.publish_failures += 1
                log.exception("a counter drift alert could not be published", extra={"id": drift.id})
            else:
                report.published += len(raised.published)


def _emit(metrics: Any, report: ReconcileReport) -> None:
    if metrics is None:
        return
    for name, value in (
        ("CounterDrift", len(report.drifts)),
        ("ReconciledPairs", report.checked),
        ("ReconcileUnsettled", len(report.unsettled)),
        ("ReconcileSkipped", report.capped + report.skipped),
        ("ReconcileErrors", report.errors),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
