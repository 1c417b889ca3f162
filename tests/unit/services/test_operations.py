"""QueueHealthService, QuarantineService, EventsLogService and AuditService on the fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.world import DLQ_URL, USAGE_QUEUE_URL, World
from tollgate.adapters import event_log
from tollgate.domain.audit import Action, plan_subject, tenant_subject
from tollgate.domain.errors import NotFound, ValidationFailed
from tollgate.domain.periods import Window
from tollgate.domain.usage import UsageEvent
from tollgate.services.ports import Quarantine

from .conftest import add_plan, add_tenant, fields_of, limit


def usage_event(event_id: str, time: str, meter: str = "api_calls") -> UsageEvent:
    return UsageEvent(id=event_id, meter=meter, time=time, value="1", data={"n": event_id})


def quarantined(tenant: str, event_id: str, time: str, reason: str = "too big") -> Quarantine:
    return Quarantine(tenant=tenant, message_id="m-" + event_id, event=usage_event(event_id, time), reason=reason)


# ------------------------------------------------------------------ queue health
def test_queue_health(world: World):
    assert world.queue_health.check().healthy
    s = world.stores
    s.queue_monitor.depths.update({USAGE_QUEUE_URL: 12, DLQ_URL: 0})
    health = world.queue_health.check()
    assert (health.backlog, health.dead_letters, health.quarantined_today, health.healthy) == (12, 0, 0, True)

    yesterday = world.clock.now() - timedelta(days=1)
    s.quarantine_log.put([quarantined("acme", "old", "2026-11-19T09:00:00.000000Z")], yesterday)
    assert world.queue_health.check().quarantined_today == 0  # counted on its own (UTC) day
    event = quarantined("acme", "e1", "2026-11-20T09:00:00.000000Z")
    assert s.quarantine_log.put([event], world.clock.now()) == [None]
    assert s.quarantine_log.put([event], world.clock.now()) == [None]  # a redelivery counts once
    health = world.queue_health.check()
    assert (health.quarantined_today, health.healthy) == (1, False)

    world.clock.advance(days=1)
    s.queue_monitor.depths[DLQ_URL] = 2
    health = world.queue_health.check()
    assert (health.dead_letters, health.quarantined_today, health.healthy) == (2, 0, False)
    assert s.queue_monitor.asked[-2:] == [USAGE_QUEUE_URL, DLQ_URL]


# ------------------------------------------------------------------ quarantine
def test_quarantined_events_newest_first(world: World):
    add_tenant(world, "acme")
    add_tenant(world, "beta")
    log = world.stores.quarantine_log
    times = ["2026-11-20T08:00:00.000000Z", "2026-11-20T09:30:00.000000Z", "2026-11-19T23:00:00.000000Z"]
    log.put([quarantined("acme", f"e{i}", t) for i, t in enumerate(times)], world.clock.now())
    log.put([quarantined("beta", "b0", times[0])], world.clock.now())

    page, cursor = world.quarantine.list_rejected("acme", 2, None)
    assert [e["id"] for e in page] == ["e1", "e0"]
    assert page[0]["reason"] == "too big" and page[0]["event"]["data"] == {"n": "e1"}
    rest, end = world.quarantine.list_rejected("acme", 2, cursor)
    assert [e["id"] for e in rest] == ["e2"] and end is None
    with pytest.raises(ValueError):
        world.quarantine.list_rejected("beta", 2, cursor)  # another tenant's cursor
    with pytest.raises(ValueError):
        world.quarantine.list_rejected("acme", 2, "%%%")
    with pytest.raises(NotFound):
        world.quarantine.list_rejected("nobody", 2, None)


def test_a_failed_quarantine_is_reported_per_entry(world: World):
    log = world.stores.quarantine_log
    log.fail_ids = {"bad"}
    out = log.put(
        [
            quarantined("acme", "bad", "2026-11-20T08:00:00.000000Z"),
            quarantined("acme", "ok", "2026-11-20T08:00:00.000000Z"),
        ],
        world.clock.now(),
    )
    assert isinstance(out[0], Exception) and out[1] is None
    assert log.count_on("2026-11-20") == 1


# ------------------------------------------------------------------ the raw event log
START = datetime(2026, 11, 19, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)


def test_raw_events_newest_first_with_cursors(world: World):
    add_tenant(world, "acme")
    add_tenant(world, "beta")
    raw = world.stores.raw_events
    raw.add(
        "acme",
        usage_event("a", "2026-11-20T08:00:00.000000Z"),
        usage_event("b", "2026-11-20T09:00:00.000000Z"),
        usage_event("c", "2026-11-20T09:00:00.000000Z"),  # same time: by id, descending
        usage_event("d", "2026-11-18T09:00:00.000000Z"),  # before the range
        usage_event("e", "2026-11-21T00:00:00.000000Z"),  # at the end: excluded
    )
    raw.add("beta", usage_event("z", "2026-11-20T09:00:00.000000Z"))

    page, cursor = world.events_log.list_events("acme", START, END, 2, None)
    assert [(e["id"], e["subject"]) for e in page] == [("c", "acme"), ("b", "acme")]
    assert page[0]["specversion"] == "1.0" and page[0]["type"] == "api_calls"
    rest, end = world.events_log.list_events("acme", START, END, 2, cursor)
    assert [e["id"] for e in rest] == ["a"] and end is None


def test_the_events_log_validates_before_reading(world: World):
    add_tenant(world, "acme")
    with pytest.raises(ValidationFailed) as exc:
        world.events_log.list_events("acme", END, START, 10, None)
    assert fields_of(exc.value) == ["to"]
    with pytest.raises(ValidationFailed) as exc:
        world.events_log.list_events("acme", END - timedelta(days=401), END, 10, None)
    assert fields_of(exc.value) == ["from"]
    with pytest.raises(NotFound):
        world.events_log.list_events("nobody", START, END, 10, None)
    for bad in ("garbage", event_log.encode_cursor("2026-11-20T09:00:00.000000Z", "beta", "x"), "W" * 40 + "[" * 3000):
        with pytest.raises(ValidationFailed) as exc:
            world.events_log.list_events("acme", START, END, 10, bad)
        assert fields_of(exc.value) == ["cursor"]


# ------------------------------------------------------------------ audit
def test_the_audit_trail_newest_first(world: World):
    add_plan(world, "free", [limit("api_calls", Window.MONTH, 100)])
    add_plan(world, "premium", [limit("api_calls", Window.MONTH, 500)])
    add_tenant(world, "acme", plan="free")
    for step, plan in enumerate(["premium", "free", "premium"]):
        world.clock.advance(seconds=1)
        world.tenants.update_tenant("acme", {"plan": plan}, "key_admin", f"step {step}")
    world.clock.advance(seconds=1)
    world.tenants.set_overrides("acme", [limit("api_calls", Window.DAY, 5)], actor="key_admin")

    first, cursor = world.audit.list_entries(tenant_subject("acme"), 3, None)
    assert [e.action for e in first] == [Action.TENANT_LIMITS, Action.TENANT_PLAN, Action.TENANT_PLAN]
    assert [e.reason for e in first[1:]] == ["step 2", "step 1"]
    rest, end = world.audit.list_entries(tenant_subject("acme"), 3, cursor)
    assert [e.action for e in rest] == [Action.TENANT_PLAN, Action.TENANT_CREATE] and end is None
    assert first[0].at > first[1].at > rest[0].at > rest[1].at

    with pytest.raises(ValueError):
        world.audit.list_entries(plan_subject("free"), 3, cursor)  # a cursor of another subject
    with pytest.raises(ValueError):
        world.audit.list_entries(tenant_subject("acme"), 3, "not-a-cursor")
    plans, _ = world.audit.list_entries(plan_subject("free"), 10, None)
    assert [e.action for e in plans] == [Action.PLAN_PUT]
