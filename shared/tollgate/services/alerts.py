"""Alerts: find the crossings in counter changes, store each alert once, publish it.

The real-time path (functions/alerts, fed by the counters table's stream) hands
``AlertEvaluator.evaluate`` each total counter's old and new value; the sweep hands
``standing`` the current windows' values. Both give alert documents to ``AlertService.raise_``.

Exactly once (docs/alerts.md): an alert's id is a function of the crossing, and its stored
item is created by a conditional put, so the second finder of a crossing stores nothing. The
put also leases the right to publish; the holder publishes to SNS and then marks the item
published. A publisher that dies after the put and before the mark leaves the alert stored
(the notification exists) and unpublished; once its lease runs out, the sweep publishes it.
A duplicate SNS message can happen only if a process dies between the publish and the mark,
and it carries the same ``id``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tollgate.domain import periods
from tollgate.domain.alerts import (
    Trigger,
    alert_document,
    counter_window,
    crossings,
    for_operators,
    limits_for,
    subject,
)
from tollgate.domain.plans import Limit, Plan
from tollgate.domain.quota import status_for

from .catalog import Catalog
from .ports import AlertStore, Clock, Notifier, TenantAlertTopics

log = logging.getLogger(__name__)

OPS, TENANT = "ops", "tenant"
"""The destinations of an alert: the operators' topic, and the tenant's own subscribers."""
LEASE_S = 30
"""How long a publisher holds an alert before another may publish it (a publish takes ms)."""


@dataclass(frozen=True)
class CounterChange:
    """A counter item's value before and after one write (a stream record's two images)."""

    pk: str
    sk: str
    old: Decimal
    new: Decimal


@dataclass
class Evaluation:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    active: set[tuple[str, str]] = field(default_factory=set)  # (tenant, meter) counted
    health: set[str] = field(default_factory=set)  # tenants whose health level may have moved


def _level_moved(limit: Limit, old: Decimal, new: Decimal) -> bool:
    if limit.limit <= 0:
        return old != new
    return status_for(old / limit.limit) != status_for(new / limit.limit) or (old <= limit.limit < new)


class AlertEvaluator:
    """Crossings in counter changes, judged on the tenant's effective limits (the catalog's,
    cached per execution environment)."""

    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self._catalog, self._clock = catalog, clock

    def evaluate(self, changes: Iterable[CounterChange]) -> Evaluation:
        out = Evaluation()
        now = self._clock.now()
        for change in changes:
            window = counter_window(change.pk, change.sk)
            if window is None:
                continue
            out.active.add((window.tenant, window.meter))
            if change.new <= change.old:
                continue
            tenant = self._catalog.tenant(window.tenant)
            if tenant is None:
                continue
            limits = limits_for([e.limit for e in self._catalog.effective_limits(tenant)], window.meter, window.window)
            if not limits:
                continue
            tz = periods.zone(tenant.timezone)
            current = periods.utc_key(periods.window_start(now, window.window, tz)) == window.window_key
            plan = self._catalog.plan(tenant.plan) if tenant.plan else None
            for limit in limits:
                for trigger in crossings(limit, change.old, change.new):
                    out.alerts.append(
                        self._document(window.tenant, limit, window.window_key, trigger, change.new, tz, plan)
                    )
                if current and _level_moved(limit, change.old, change.new):
                    out.health.add(window.tenant)
        return out

    def _document(
        self, tenant: str, limit: Limit, window_key: str, trigger: Trigger, used: Decimal, tz: Any, plan: Plan | None
    ) -> dict[str, Any]:
        return alert_document(
            tenant=tenant,
            limit=limit,
            window_key=window_key,
            trigger=trigger,
            used=used,
            tz=tz,
            occurred_at=self._clock.now(),
            plan=plan,
        )


def _tenant_news(doc: dict[str, Any]) -> bool:
    """Whether the tenant's own subscribers get this alert: every alert about its usage, never
    an operators' ``system.*`` alert (a counter drift)."""
    return bool(doc.get("tenant_id")) and not for_operators(str(doc["type"]))


@dataclass
class RaiseReport:
    published: list[str] = field(default_factory=list)  # ids published by this call
    already: list[str] = field(default_factory=list)  # stored before, or another publisher's


class AlertService:
    """Stores and publishes alerts, each once (see the module's docstring)."""

    def __init__(
        self, store: AlertStore, notifier: Notifier, clock: Clock, *, tenant_topics: TenantAlertTopics | None = None
    ) -> None:
        self._store, self._notifier, self._clock = store, notifier, clock
        self._tenant_topics = tenant_topics

    def raise_(self, docs: Sequence[dict[str, Any]]) -> RaiseReport:
        """Store and publish each alert that is new (or stranded unpublished). One alert's
        failure does not hold up the others: each is tried, then the first error is raised
        (its lease given back), so the caller retries, and the ids make the retry exact."""
        report = RaiseReport()
        error: Exception | None = None
        for doc in docs:
            try:
                sent = self._store.acquire(doc, self._clock.now(), LEASE_S)
                if sent is None:
                    report.already.append(doc["id"])
                    continue
                self._publish(doc, sent)
                report.published.append(doc["id"])
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the other alerts
                error = error or exc
        if error is not None:
            raise error
        return report

    def _publish(self, doc: dict[str, Any], sent: set[str]) -> None:
        """To the operators' topic, then to the tenant's subscribers; each destination is
        recorded as it is done, so a retry sends only what is left."""
        try:
            if OPS not in sent:
                self._notifier.publish(doc, subject=subject(doc))
                self._store.mark_sent(doc["id"], OPS)
            if self._tenant_topics is not None and TENANT not in sent and _tenant_news(doc):
                message = json.dumps(doc, separators=(",", ":"))
                attributes = {"type": doc["type"], "severity": doc["severity"]}
                if self._tenant_topics.publish(doc["tenant_id"], subject(doc), message, attributes) is not None:
                    self._store.mark_sent(doc["id"], TENANT)
        except Exception:
            try:
                self._store.release(doc["id"])
            except Exception:  # the lease then runs out on its own; the sweep publishes it
                log.warning("could not release the lease of alert %s", doc["id"], exc_info=True)
            raise
        self._store.mark_published(doc["id"], self._clock.now())

    def republish(self, lookback: timedelta = timedelta(days=1)) -> RaiseReport:
        """Publish the alerts stored but stranded unpublished (a publisher died): the sweep's
        second duty."""
        now = self._clock.now()
        return self.raise_(self._store.unpublished(now - lookback, now))

    def new_only(self, docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The documents whose alerts are not stored yet, by a read (the sweep reads before it
        writes, so a sweep that finds nothing new costs reads only)."""
        known = self._store.known([d["id"] for d in docs]) if docs else set()
        return [d for d in docs if d["id"] not in known]


# ------------------------------------------------------------------ the real-time path
def change_of(record: dict[str, Any]) -> CounterChange | None:
    """A DynamoDB stream record (NEW_AND_OLD_IMAGES) of the counters table as a change of
    ``v``; None for a removal (TTL) or an item without a key we know."""
    data = record.get("dynamodb") or {}
    keys = data.get("Keys") or {}
    if record.get("eventName") == "REMOVE" or "pk" not in keys or "sk" not in keys:
        return None

    def value(image: dict[str, Any] | None) -> Decimal:
        v = (image or {}).get("v") or {}
        return Decimal(v["N"]) if "N" in v else Decimal(0)

    return CounterChange(keys["pk"]["S"], keys["sk"]["S"], value(data.get("OldImage")), value(data.get("NewImage")))


class RealTimeAlerts:
    """One stream record at a time: its crossings raised, the tenant's health refreshed when
    a level moved, the (tenant, meter) marked active for the sweep and the reconciliation.
    A step that fails raises, so the record is retried; every step is idempotent."""

    def __init__(self, evaluator: AlertEvaluator, alerts: AlertService, *, after: Any = None) -> None:
        self._evaluator, self._alerts, self._after = evaluator, alerts, after

    def handle(self, record: dict[str, Any]) -> Evaluation:
        change = change_of(record)
        if change is None:
            return Evaluation()
        evaluation = self._evaluator.evaluate([change])
        self._alerts.raise_(evaluation.alerts)
        if self._after is not None:
            self._after(evaluation)
        return evaluation
