"""The real-time alert path on the fakes: stream records in, alerts stored and published once,
whatever is redelivered, raced or failed on the way."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.alerts import CallFaults, FakeAlertStore
from tests.fakes.outbox import FakeNotifier
from tests.fakes.world import Stores, World
from tollgate.domain.periods import Window, utc_key, window_start, zone
from tollgate.domain.plans import Limit

from .conftest import add_meter, add_plan, add_tenant


def record(tenant: str, window: Window, key: str, old: Any, new: Any, meter: str = "calls") -> dict[str, Any]:
    image = {"pk": {"S": f"T#{tenant}#{meter}#{window.value}"}, "sk": {"S": key}}
    data: dict[str, Any] = {"Keys": image, "NewImage": {**image, "v": {"N": str(new)}}}
    if old is not None:
        data["OldImage"] = {**image, "v": {"N": str(old)}}
    return {"eventName": "INSERT" if old is None else "MODIFY", "dynamodb": data}


def month(world: World) -> str:
    return utc_key(window_start(world.clock.now(), Window.MONTH, zone("Europe/Paris")))


THRESHOLDS = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))


def setup(world: World, amount: int = 100) -> World:
    add_meter(world, "calls")
    add_plan(world, "pro", [Limit("calls", Window.MONTH, Decimal(amount), thresholds=THRESHOLDS)])
    add_tenant(world, "acme", timezone="Europe/Paris", plan="pro")
    add_tenant(world, "globex", timezone="UTC", plan="pro")
    return world


@pytest.fixture
def world() -> World:
    return setup(World())


def published(world: World) -> list[tuple[str, Any]]:
    return [(p.event["type"], p.event["thresholds"]) for p in world.stores.notifier.published]


def test_thresholds_crossed_one_by_one_then_all_at_once_in_a_new_window(world):
    key = month(world)
    for old, new in ((None, 40), (40, 55), (55, 81), (81, 100), (100, 100), (100, 130)):
        world.real_time_alerts.handle(record("acme", Window.MONTH, key, old, new))
    assert published(world) == [
        ("usage.threshold_reached", [0.5]),
        ("usage.threshold_reached", [0.8]),
        ("usage.threshold_reached", [1]),
        ("billing.over_limit", []),
    ]
    over = world.stores.notifier.published[-1].event
    assert (over["used"], over["overage"], over["severity"]) == (130, 30, "critical")
    world.clock.advance(days=20)  # December: every threshold re-armed
    world.real_time_alerts.handle(record("acme", Window.MONTH, month(world), None, 500))
    assert len(published(world)) == 8
    assert {p.event["window_start"] for p in world.stores.notifier.published[4:]} == {"2026-12-01T00:00:00+01:00"}


def test_a_redelivered_record_and_a_racing_evaluator_raise_nothing_new(world):
    rec = record("acme", Window.MONTH, month(world), 10, 90)
    world.real_time_alerts.handle(rec)
    world.real_time_alerts.handle(rec)
    world.another_environment().real_time_alerts.handle(rec)
    assert published(world) == [("usage.threshold_reached", [0.5]), ("usage.threshold_reached", [0.8])]
    assert len(world.stores.alert_store.items) == 2


def test_a_back_dated_crossing_fires_for_its_own_window(world):
    october = utc_key(window_start(world.clock.now() - timedelta(days=30), Window.MONTH, zone("Europe/Paris")))
    world.real_time_alerts.handle(record("acme", Window.MONTH, october, 70, 85))
    (alert,) = world.stores.notifier.published
    assert alert.event["window_start"] == "2026-10-01T00:00:00+02:00"


def test_a_changed_limit_value_re_arms_its_thresholds(world):
    key = month(world)
    world.real_time_alerts.handle(record("acme", Window.MONTH, key, 0, 60))
    add_plan(world, "pro", [Limit("calls", Window.MONTH, Decimal(200), thresholds=THRESHOLDS)])
    world.stores.clock.advance(seconds=120)  # past the catalog's cache
    world.real_time_alerts.handle(record("acme", Window.MONTH, key, 60, 110))
    assert [(p.event["limit"], p.event["thresholds"]) for p in world.stores.notifier.published] == [
        (100, [0.5]),
        (200, [0.5]),
    ]


def test_nothing_fires_for_other_items_unknown_tenants_windows_without_limits_or_removals(world):
    key = month(world)
    world.real_time_alerts.handle(record("nobody", Window.MONTH, key, 0, 1000))
    world.real_time_alerts.handle(record("acme", Window.DAY, key, 0, 1000))
    world.real_time_alerts.handle(record("acme", Window.MONTH, key, 0, 1000, meter="other"))
    group = record("acme", Window.MONTH, key, 0, 1000)
    group["dynamodb"]["Keys"]["pk"]["S"] = "G#acme#calls#month#model"
    world.real_time_alerts.handle(group)
    world.real_time_alerts.handle(
        {"eventName": "REMOVE", "dynamodb": {"Keys": record("acme", Window.MONTH, key, 0, 1)["dynamodb"]["Keys"]}}
    )
    assert published(world) == []


def test_each_tenant_gets_its_own_alerts(world):
    world.real_time_alerts.handle(record("acme", Window.MONTH, month(world), 0, 60))
    world.real_time_alerts.handle(
        record("globex", Window.MONTH, utc_key(window_start(world.clock.now(), Window.MONTH, zone("UTC"))), 0, 60)
    )
    docs = [p.event for p in world.stores.notifier.published]
    assert [d["tenant_id"] for d in docs] == ["acme", "globex"] and docs[0]["id"] != docs[1]["id"]
    assert [d["window_start"] for d in docs] == ["2026-11-01T00:00:00+01:00", "2026-11-01T00:00:00+00:00"]


def _run_with_faults(fail_at: set[int]) -> tuple[Stores, CallFaults]:
    faults = CallFaults(fail_at)
    stores = Stores(alert_store=FakeAlertStore(faults), notifier=FakeNotifier(faults))
    world = setup(World(stores))
    key = month(world)
    for old, new in [(None, 40), (40, 55), (55, 81), (81, 130)]:
        rec = record("acme", Window.MONTH, key, old, new)
        for _ in range(5):  # the stream retries a failed record until it succeeds
            try:
                world.real_time_alerts.handle(rec)
                break
            except ConnectionError:
                continue
        else:
            pytest.fail("the record never succeeded")
    for _ in range(5):  # the sweep, every 5 minutes, publishes what a failure stranded
        world.clock.advance(minutes=5)
        try:
            world.alerts.republish()
            break
        except ConnectionError:
            continue
    return stores, faults


CLEAN_CALLS = _run_with_faults(set())[1].calls


@pytest.mark.parametrize("k", range(1, CLEAN_CALLS + 1))
def test_a_fault_at_the_kth_call_still_stores_each_crossing_once_and_publishes_it(k):
    """The k-th call of the alert path (store or SNS) fails, for every k of a clean run."""
    stores, faults = _run_with_faults({k})
    items = stores.alert_store.items
    assert len(items) == 4  # 0.5, 0.8, 1.0 and over_limit: one stored alert each
    assert all(i.published_at is not None for i in items.values())
    sent = Counter(p.id for p in stores.notifier.published)
    assert set(sent) == set(items)  # every alert reached SNS, with its own id
    # A publish repeats (with the same id) only when recording that it was sent failed.
    repeats = sum(n - 1 for n in sent.values())
    assert repeats == (1 if faults.failed == ["mark_sent"] else 0)


def test_the_clean_run_makes_the_calls_the_campaign_enumerates():
    assert CLEAN_CALLS == 4 * 4 + 1  # per alert: acquire, publish, mark sent, mark published; one sweep read


def test_a_subscribed_tenant_gets_each_alert_once_on_its_own_topic_and_a_failed_delivery_resends_only_it(world):
    topics = world.stores.tenant_topics
    topics.subscribed = {"acme"}
    calls = {"n": 0}
    real = topics.publish

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("injected: tenant topic unreachable")
        return real(*args, **kwargs)

    topics.publish = flaky  # type: ignore[method-assign]
    rec = record("acme", Window.MONTH, month(world), 0, 60)
    with pytest.raises(ConnectionError):
        world.real_time_alerts.handle(rec)
    world.real_time_alerts.handle(rec)  # the stream's retry
    world.real_time_alerts.handle(record("globex", Window.MONTH, month(world), 0, 60))
    assert [p.tenant_id for p in topics.published] == ["acme"]  # globex has no subscribers
    assert [p.event["tenant_id"] for p in world.stores.notifier.published] == ["acme", "globex"]  # ops: once each
    delivered = topics.published[0]
    assert delivered.attributes == {"type": "usage.threshold_reached", "severity": "warning", "tenant_id": "acme"}


def test_a_crossing_in_the_current_window_refreshes_the_tenants_health(world):
    assert world.health.of("acme").status.value == "healthy"
    world.real_time_alerts.handle(record("acme", Window.MONTH, month(world), 0, 8))  # nothing counted: no usage
    world.consume.consume("acme", "calls", Decimal(95), "big")  # the counter now holds 95 (the stream's new image)
    world.real_time_alerts.handle(record("acme", Window.MONTH, month(world), 0, 95))
    health = world.health.of("acme")
    assert (health.status.value, health.has_overages) == ("warning", False)


def test_over_limit_carries_the_cost_of_the_overage_on_a_plan_that_prices_it():
    world = World()
    add_meter(world, "calls")
    world.plans.put_plan(
        "metered",
        "Metered",
        [Limit("calls", Window.MONTH, Decimal(100), thresholds=())],
        None,
        actor="key_admin",
        charges=[{"meter": "calls", "model": "per_unit", "unit_amount": "0.02", "free_units": 100}],
    )
    add_tenant(world, "acme", timezone="Europe/Paris", plan="metered")
    world.real_time_alerts.handle(record("acme", Window.MONTH, month(world), 90, 150))
    (alert,) = [p.event for p in world.stores.notifier.published]
    assert (alert["type"], alert["overage"], alert["overage_cost"], alert["currency"]) == (
        "billing.over_limit",
        50,
        "1.00",
        "USD",
    )
