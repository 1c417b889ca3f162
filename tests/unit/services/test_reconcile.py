"""ReconcileService and ActivityRecorder on the fakes: usage goes in through the real ingest,
consumer and consume services (FakeEventLedger, FakeCounterStore), the recount reads what they
stored (FakeDaySources), and drifts reach the FakeNotifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.clock import FakeClock
from tests.fakes.world import Stores, World
from tests.unit.services.conftest import add_meter, add_tenant
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.services import count_usage as count_usage_module
from tollgate.services.activity import ActivityRecorder
from tollgate.services.reconcile import ReconcileService

ADMIN = Principal("key_admin", Scope.ADMIN)
DAY = datetime(2026, 11, 20, 12, tzinfo=UTC)  # noon in Paris, on the 20th
RUN = datetime(2026, 11, 21, 0, 15, tzinfo=UTC)  # the 00:15 UTC run after Paris's 20th ended (23:00 UTC)
PARIS_DAY_KEY = "2026-11-19T23:00:00Z"


@pytest.fixture
def world(monkeypatch) -> World:
    monkeypatch.setattr(count_usage_module.time, "sleep", lambda _: None)
    w = World(Stores(clock=FakeClock(DAY)))
    add_tenant(w, "acme", timezone="Europe/Paris")
    add_meter(w, "calls", Aggregation.COUNT)
    add_meter(w, "gb", Aggregation.SUM)
    add_meter(w, "peak", Aggregation.MAX)
    return w


def send(world: World, *events: dict[str, Any], message: str = "m1") -> None:
    """Events through ingest and the consumer, and the evaluator's activity marks."""
    queue = world.stores.usage_queue
    before = len(queue.bodies)
    result = world.ingest.ingest(ADMIN, [{"subject": "acme", **e} for e in events])
    assert not result.rejected, result.rejected
    bodies = queue.bodies[before:]
    outcome = world.count_usage.count_messages([(f"{message}-{i}", b) for i, b in enumerate(bodies)])
    assert not outcome.failed
    world.activity_recorder.record(("acme", e["type"]) for e in events)


def day_total(meter: str, day_key: str = PARIS_DAY_KEY) -> CounterKey:
    return CounterKey(keys.total_pk("acme", meter, Window.DAY), keys.total_sk(day_key))


def drift_on_purpose(world: World, meter: str, amount: str) -> None:
    """Another writer (a bug, an operator) adds to the day total: UpdateItem ADD v."""
    store = world.stores.counter_store
    store.set_value(day_total(meter), (store.value(day_total(meter)) or 0) + Decimal(amount))


def run(world: World, **kwargs: Any):
    world.clock.at = RUN
    return world.reconcile.reconcile(**kwargs)


def a_day_of_usage(world: World) -> None:
    """Paris's 20th is [19th 23:00 UTC, 20th 23:00 UTC): two events inside it, one just before
    and one just after, over both UTC days its log is filed under."""
    world.clock.at = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
    send(
        world,
        {"id": "before", "type": "calls", "time": "2026-11-19T22:59:59Z"},  # the 19th in Paris
        {"id": "first", "type": "calls", "time": "2026-11-19T23:00:00Z"},  # 00:00 on the 20th
        {"id": "last", "type": "calls", "time": "2026-11-20T22:59:59.999999Z"},
        {"id": "after", "type": "calls", "time": "2026-11-20T23:00:00Z"},  # the 21st
        {"id": "g1", "type": "gb", "time": "2026-11-20T10:00:00Z", "data": {"value": "1.25"}},
        {"id": "g2", "type": "gb", "time": "2026-11-20T11:00:00Z", "data": {"value": "0.5"}},
        {"id": "p1", "type": "peak", "time": "2026-11-20T11:00:00Z", "data": {"value": "9"}},
    )


def test_a_day_that_adds_up_gives_no_alert(world: World):
    a_day_of_usage(world)
    report = run(world)
    assert world.stores.notifier.published == []
    assert (report.pairs, report.checked, report.matched, report.drifts) == (2, 2, 2, [])  # peak is a max meter
    assert world.stores.counter_store.value(day_total("calls")) == 2  # "before" and "after" are other days


def test_a_drift_gives_one_alert_with_both_values(world: World):
    a_day_of_usage(world)
    drift_on_purpose(world, "gb", "5")
    report = run(world)
    assert report.matched == 1 and len(report.drifts) == 1
    (alert,) = world.stores.notifier.published
    assert alert.event["type"] == "system.counter_drift"
    doc = alert.event
    assert (doc["tenant_id"], doc["meter"], doc["window"]) == ("acme", "gb", "day")
    assert (doc["counted"], doc["recounted"], doc["difference"], doc["consumed"]) == (6.75, 1.75, 5, 0)
    assert (doc["window_start"], doc["window_end"]) == ("2026-11-20T00:00:00+01:00", "2026-11-21T00:00:00+01:00")
    assert doc["occurred_at"] == "2026-11-21T00:15:00Z" and doc["id"] == alert.id


def test_a_rerun_publishes_nothing_again_and_a_changed_drift_a_new_one(world: World):
    a_day_of_usage(world)
    drift_on_purpose(world, "calls", "-1")
    run(world)
    world.clock.advance(hours=3)
    run(world, as_of=RUN)  # the scheduler's retry: same scheduled time
    (first,) = world.stores.notifier.published  # the rerun found the drift stored: no second publish
    assert first.event["counted"] == 1 and len(world.stores.alert_store.items) == 1
    drift_on_purpose(world, "calls", "-1")
    run(world, as_of=RUN)
    assert world.stores.notifier.published[-1].id != first.id


def test_consumed_usage_is_recounted_from_the_consume_records(world: World):
    world.clock.at = DAY
    assert world.consume.consume("acme", "gb", Decimal("2.5"), "c1").status == 200
    world.activity_recorder.record([("acme", "gb")])
    a_day_of_usage(world)
    assert world.stores.counter_store.value(day_total("gb")) == Decimal("4.25")
    assert run(world).matched == 2 and world.stores.notifier.published == []
    drift_on_purpose(world, "gb", "1")
    run(world)
    (alert,) = world.stores.notifier.published
    assert (alert.event["counted"], alert.event["recounted"], alert.event["consumed"]) == (5.25, 4.25, 2.5)


def test_only_meters_active_on_the_tenant_s_day_are_read(world: World):
    a_day_of_usage(world)
    world.stores.activity_index.hours.clear()
    world.stores.activity_index.mark(datetime(2026, 11, 19, 22, 30, tzinfo=UTC), [("acme", "gb")])  # the 19th in Paris
    world.stores.activity_index.mark(datetime(2026, 11, 20, 23, 30, tzinfo=UTC), [("acme", "calls")])  # settling hour
    world.stores.activity_index.mark(datetime(2026, 11, 20, 23, 30, tzinfo=UTC), [("gone", "calls")])  # no tenant
    report = run(world)
    assert (report.active_pairs, report.pairs, report.matched) == (3, 1, 1)
    assert world.stores.day_sources.calls["consumed"] == 1  # calls only


def test_a_non_utc_tenant_s_day_is_its_local_day(world: World):
    """The UTC tenant's 20th is another day than Paris's: an event at 23:30 UTC on the 19th is
    Paris's 20th and the UTC tenant's 19th."""
    add_tenant(world, "zulu", timezone="UTC")
    world.clock.at = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
    for tenant in ("acme", "zulu"):
        world.ingest.ingest(
            ADMIN, [{"id": f"{tenant}-x", "type": "calls", "subject": tenant, "time": "2026-11-19T23:30:00Z"}]
        )
        world.ingest.ingest(
            ADMIN, [{"id": f"{tenant}-y", "type": "calls", "subject": tenant, "time": "2026-11-20T23:30:00Z"}]
        )
    bodies = world.stores.usage_queue.bodies
    assert not world.count_usage.count_messages([(f"m{i}", b) for i, b in enumerate(bodies)]).failed
    world.activity_recorder.record([("acme", "calls"), ("zulu", "calls")])
    utc_day = CounterKey(keys.total_pk("zulu", "calls", Window.DAY), "2026-11-20T00:00:00Z")
    store = world.stores.counter_store
    assert store.value(day_total("calls")) == 1 and store.value(utc_day) == 1  # x in Paris's 20th, y in zulu's
    store.set_value(utc_day, 3)
    report = run(world)
    assert report.matched == 1
    (alert,) = world.stores.notifier.published
    assert alert.event["tenant_id"] == "zulu" and alert.event["window_start"] == "2026-11-20T00:00:00+00:00"
    assert (alert.event["counted"], alert.event["recounted"]) == (3, 1)


def test_usage_counted_during_the_recount_is_not_a_drift(world: World):
    a_day_of_usage(world)
    sources = world.stores.day_sources
    late = iter([lambda: send(world, {"id": "late", "type": "calls", "time": "2026-11-20T20:00:00Z"}, message="late")])
    sources.during_recount = lambda: next(late, lambda: None)()
    report = run(world)
    assert report.matched == 2 and world.stores.notifier.published == []
    assert sources.calls["logged"] == 2  # the counter moved: measured again


def test_a_message_logged_but_not_yet_committed_is_not_a_drift(world: World):
    """The consumer logs before it commits: a run between the two sees the log ahead of the
    counter, and measures again after a pause, by which time the redelivery has committed."""
    a_day_of_usage(world)
    ledger = world.stores.event_ledger
    ledger.fail("commit", RuntimeError("the consumer died before its commit"))
    world.clock.at = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
    body = [b for b in _bodies(world, {"id": "slow", "type": "calls", "time": "2026-11-20T20:00:00Z"})]
    assert world.count_usage.count_messages([("slow", body[0])]).failed
    redelivered = []
    service = ReconcileService(
        world.stores.activity_index,
        world.catalog,
        world.stores.day_sources,
        world.alerts,
        world.clock,
        workers=1,
        sleep=lambda _: redelivered.append(world.count_usage.count_messages([("slow", body[0])])),
    )
    world.clock.at = RUN
    report = service.reconcile()
    assert redelivered and not redelivered[0].failed
    assert report.matched == 2 and world.stores.notifier.published == []


def _bodies(world: World, *events: dict[str, Any]) -> list[str]:
    queue = world.stores.usage_queue
    before = len(queue.bodies)
    world.ingest.ingest(ADMIN, [{"subject": "acme", **e} for e in events])
    return queue.bodies[before:]


def test_a_counter_that_never_settles_is_reported_unsettled_not_drifted(world: World):
    a_day_of_usage(world)
    world.stores.day_sources.during_recount = lambda: drift_on_purpose(world, "calls", "1")
    report = run(world)
    assert report.unsettled == [("acme", "calls", PARIS_DAY_KEY)] and report.drifts == []
    assert world.stores.notifier.published == []


def test_the_work_is_capped_and_time_bounded(world: World):
    a_day_of_usage(world)
    capped = ReconcileService(
        world.stores.activity_index,
        world.catalog,
        world.stores.day_sources,
        world.alerts,
        world.clock,
        max_pairs=1,
        workers=1,
        pause_s=0,
    )
    world.clock.at = RUN
    report = capped.reconcile()
    assert (report.pairs, report.checked, report.capped) == (2, 0, 2)  # one tenant-day of 2 meters: left out
    out_of_time = run(world, remaining_ms=lambda: 10_000)
    assert (out_of_time.checked, out_of_time.skipped) == (0, 2)


def test_metrics_and_a_failed_publish(world: World):
    a_day_of_usage(world)
    drift_on_purpose(world, "gb", "5")

    class Metrics:
        def __init__(self) -> None:
            self.values: dict[str, float] = {}

        def add_metric(self, name: str, unit: Any, value: float) -> None:
            self.values[name] = value

    metrics = Metrics()
    notifier = world.stores.notifier

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("SNS is down")

    notifier.publish = refuse  # type: ignore[method-assign]
    report = run(world, metrics=metrics)
    assert report.publish_failures == 1 and report.published == 0
    assert metrics.values["CounterDrift"] == 1 and metrics.values["ReconciledPairs"] == 2


def test_the_scheduled_job_reads_as_of(world: World):
    a_day_of_usage(world)
    drift_on_purpose(world, "gb", "5")
    world.clock.at = RUN + timedelta(days=1)  # a retry a day late still covers the scheduled day
    report = world.reconcile.run({"job": "reconcile", "as_of": "2026-11-21T00:15:00Z"})
    assert report.as_of == RUN and len(report.drifts) == 1
    with pytest.raises(ValueError):
        world.reconcile.run({"job": "reconcile", "as_of": "<aws.scheduler.scheduled-time>"})


# ------------------------------------------------------------------ the activity recorder
def test_the_recorder_marks_each_pair_once_an_hour(world: World):
    index = world.stores.activity_index
    recorder = ActivityRecorder(index, world.clock)
    world.clock.at = datetime(2026, 11, 20, 5, 10, tzinfo=UTC)
    assert recorder.record([("acme", "gb"), ("acme", "gb"), ("acme", "calls")]) == 2
    world.clock.advance(minutes=40)
    assert recorder.record([("acme", "gb"), ("beta", "gb")]) == 1
    assert index.writes == 3
    world.clock.advance(minutes=10)  # 06:00: a new hour
    assert recorder.record([("acme", "gb")]) == 1
    assert index.active(datetime(2026, 11, 20, 5, tzinfo=UTC), datetime(2026, 11, 20, 6, tzinfo=UTC)) == {
        ("acme", "gb"),
        ("acme", "calls"),
        ("beta", "gb"),
    }
    assert index.active(datetime(2026, 11, 20, 6, 30, tzinfo=UTC), datetime(2026, 11, 20, 6, 31, tzinfo=UTC)) == {
        ("acme", "gb")
    }


def test_a_failed_mark_is_tried_again(world: World):
    index = world.stores.activity_index
    recorder = ActivityRecorder(index, world.clock)
    index.fail_marks = 1
    with pytest.raises(RuntimeError):
        recorder.record([("acme", "gb")])
    assert recorder.record([("acme", "gb")]) == 1 and index.writes == 1
    with pytest.raises(ValueError):
        recorder.record([("a#b", "gb")])


def test_tenants_are_checked_side_by_side(world: World):
    zones = {"t-paris": "Europe/Paris", "t-utc": "UTC", "t-tokyo": "Asia/Tokyo", "t-lima": "America/Lima"}
    world.clock.at = datetime(2026, 11, 20, 18, tzinfo=UTC)
    for tenant, tz in zones.items():
        add_tenant(world, tenant, timezone=tz)
        world.ingest.ingest(ADMIN, [{"id": f"{tenant}-{i}", "type": "calls", "subject": tenant} for i in range(3)])
    bodies = world.stores.usage_queue.bodies
    assert not world.count_usage.count_messages([(f"m{i}", b) for i, b in enumerate(bodies)]).failed
    world.activity_recorder.record((t, "calls") for t in zones)
    store = world.stores.counter_store
    (lima_day,) = [k for k in store.counters if k.pk == keys.total_pk("t-lima", "calls", Window.DAY)]
    store.set_value(lima_day, 4)
    service = ReconcileService(
        world.stores.activity_index, world.catalog, world.stores.day_sources, world.alerts, world.clock,
        workers=4, pause_s=0,
    )  # fmt: skip
    world.clock.at = datetime(2026, 11, 21, 12, 15, tzinfo=UTC)  # every zone's 20th has ended
    report = service.reconcile()
    assert (report.pairs, report.matched, len(report.drifts)) == (4, 3, 1)
    (alert,) = world.stores.notifier.published
    assert alert.event["tenant_id"] == "t-lima" and alert.event["window_start"] == "2026-11-20T00:00:00-05:00"
