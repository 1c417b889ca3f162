"""The alert sweep on the fakes: what the real-time path missed is raised by the same ids,
only active (or unhealthy) tenants are read, and a sweep that finds nothing new writes nothing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tests.fakes.alerts import CallFaults, FakeAlertStore
from tests.fakes.world import Stores, World
from tollgate.domain.periods import Window
from tollgate.domain.plans import Limit
from tollgate.services.alert_sweep import AlertSweep

from .conftest import add_meter, add_plan, add_tenant
from .test_alerts import THRESHOLDS, month, record


class Activity:
    def __init__(self) -> None:
        self.pairs: set[tuple[str, str]] = set()
        self.asked: list[tuple[datetime, datetime]] = []

    def active(self, start: datetime, end: datetime) -> set[tuple[str, str]]:
        self.asked.append((start, end))
        return set(self.pairs)


def make() -> tuple[World, Activity, AlertSweep, CallFaults]:
    faults = CallFaults()
    world = World(Stores(alert_store=FakeAlertStore(faults)))
    add_meter(world, "calls")
    add_plan(world, "pro", [Limit("calls", Window.MONTH, Decimal(10), thresholds=THRESHOLDS)])
    for tenant in ("acme", "idle"):
        add_tenant(world, tenant, timezone="Europe/Paris", plan="pro")
    activity = Activity()
    sweep = AlertSweep(world.stores.tenant_repo, world.quotas, world.alerts, world.clock, activity=activity)
    return world, activity, sweep, faults


def test_the_sweep_raises_what_the_real_time_path_missed_once():
    world, activity, sweep, faults = make()
    for i in range(9):
        world.consume.consume("acme", "calls", Decimal(1), f"e{i}")
        world.consume.consume("idle", "calls", Decimal(1), f"e{i}")
    activity.pairs = {("acme", "calls")}
    report = sweep.run()
    assert (report.tenants, report.raised) == (1, 2)  # "idle" counted too, but is not active: not read
    assert [(p.event["tenant_id"], p.event["thresholds"]) for p in world.stores.notifier.published] == [
        ("acme", [0.5]),
        ("acme", [0.8]),
    ]
    calls = faults.calls
    assert sweep.run().raised == 0
    assert faults.calls - calls == 2  # one read of the known ids, one of the stranded: no write
    # The real-time path, late, finds the same crossings stored: nothing new.
    world.real_time_alerts.handle(record("acme", Window.MONTH, month(world), 4, 9))
    assert len(world.stores.notifier.published) == 2


def test_the_sweep_asks_for_this_hour_and_the_previous_one_and_includes_unhealthy_tenants():
    world, activity, _, _ = make()
    for i in range(10):
        world.consume.consume("idle", "calls", Decimal(1), f"e{i}")
    sweep = AlertSweep(
        world.stores.tenant_repo, world.quotas, world.alerts, world.clock, activity=activity, unhealthy=lambda: ["idle"]
    )
    assert sweep.run().raised == 3
    (start, end), now = activity.asked[0], world.clock.now()
    assert start <= now.replace(minute=0) and (end - start).total_seconds() == 7200 and end > now


def test_the_sweep_publishes_an_alert_stranded_unpublished():
    world, activity, sweep, _ = make()
    world.real_time_alerts.handle(record("acme", Window.MONTH, month(world), 0, 5))
    (published,) = world.stores.notifier.published
    item = world.stores.alert_store.items[published.id]
    item.published_at, item.sent = None, set()  # as if the publisher died before SNS took it
    world.clock.advance(minutes=5)
    assert sweep.run().republished == 1
    assert [p.id for p in world.stores.notifier.published] == [published.id, published.id]
