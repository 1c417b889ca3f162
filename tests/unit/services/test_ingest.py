"""IngestService on the fakes: valid events reach the queue as UsageMessage bodies; what the
queue refuses is reported back."""

from __future__ import annotations

import json

import pytest

from tests.fakes.world import World
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.meters import Aggregation
from tollgate.domain.usage import UsageMessage
from tollgate.services.catalog import CONFIG_TTL_S
from tollgate.services.ingest import QUEUE_FAILED, RETRY_AFTER_SECONDS, NoValidEvents, QueueUnavailable
from tollgate.wire.usage_message import decode

from .conftest import add_meter, add_tenant, tenant_principal

INGEST = Principal(key_id="key_i", scope=Scope.INGEST)


@pytest.fixture
def world() -> World:
    w = World()
    add_tenant(w, "acme", timezone="Europe/Paris")
    add_tenant(w, "beta")
    add_meter(w, "api_calls", Aggregation.SUM, group_by=["region"])
    add_meter(w, "requests", Aggregation.COUNT)
    return w


def event(event_id: str, tenant: str = "acme", meter: str = "api_calls", **data) -> dict:
    return {
        "id": event_id,
        "type": meter,
        "subject": tenant,
        "time": "2026-11-20T09:00:00Z",
        "data": data or {"value": 2, "region": "eu"},
    }


def send(world: World, *events: dict, principal: Principal = INGEST):
    return world.ingest.ingest(principal, json.loads(json.dumps(list(events))))


def messages(world: World) -> list[UsageMessage]:
    return [decode(b) for b in world.stores.usage_queue.bodies]


def test_valid_events_are_queued(world: World):
    result = send(world, event("e1"), event("e2", meter="requests", value=1))
    assert (result.accepted, result.rejected, result.messages, result.queue_failed) == (2, [], 1, 0)
    assert result.sqs_calls == 1
    [msg] = messages(world)
    assert (msg.tenant, msg.timezone) == ("acme", "Europe/Paris")
    assert set(msg.meters) == {"api_calls", "requests"}
    assert msg.meters["api_calls"].group_by == ("region",)
    assert [(e.id, e.meter, e.value) for e in msg.events] == [("e1", "api_calls", "2"), ("e2", "requests", "1")]
    assert msg.events[0].dims == {"region": "eu"}


def test_one_message_per_tenant_naming_only_its_meters(world: World):
    send(world, event("a1"), event("b1", tenant="beta", meter="requests", value=1), event("a2"))
    by_tenant = {m.tenant: m for m in messages(world)}
    assert [e.id for e in by_tenant["acme"].events] == ["a1", "a2"]
    assert set(by_tenant["acme"].meters) == {"api_calls"}
    assert (by_tenant["beta"].timezone, set(by_tenant["beta"].meters)) == ("UTC", {"requests"})


def test_invalid_events_are_rejected_and_the_rest_queued(world: World):
    result = send(world, event("e1"), event("e2", meter="unknown"), event("e3", tenant="nobody"))
    assert result.accepted == 1
    assert [r.index for r in result.rejected] == [1, 2]
    assert [e.id for m in messages(world) for e in m.events] == ["e1"]
    with pytest.raises(NoValidEvents):
        send(world, event("e4", meter="unknown"))


def test_a_tenant_key_sends_for_its_own_tenant_only(world: World):
    result = send(world, event("e1"), event("e2", tenant="beta"), principal=tenant_principal("acme"))
    assert result.accepted == 1 and [r.index for r in result.rejected] == [1]
    assert [m.tenant for m in messages(world)] == ["acme"]


def test_the_tenants_zone_comes_from_the_catalog_cache(world: World):
    send(world, event("e1"))
    other = world.another_environment()
    other.tenants.update_tenant("acme", {"timezone": "Asia/Tokyo"})
    send(world, event("e2"))
    world.clock.advance(seconds=CONFIG_TTL_S)
    send(world, event("e3"))
    assert [m.timezone for m in messages(world)] == ["Europe/Paris", "Europe/Paris", "Asia/Tokyo"]


def test_a_queue_refusing_everything_is_unavailable(world: World):
    world.stores.usage_queue.refuse_all = True
    with pytest.raises(QueueUnavailable) as exc:
        send(world, event("e1"), event("e2", tenant="beta"))
    assert exc.value.status == 503 and exc.value.retry_after == RETRY_AFTER_SECONDS
    assert [e.field for e in exc.value.errors] == ["[0]", "[1]"]
    assert all(e.message == QUEUE_FAILED for e in exc.value.errors)
    assert world.stores.usage_queue.bodies == []
    assert len(world.stores.usage_queue.sends) == 1


def test_events_of_refused_messages_are_rejected(world: World):
    queue = world.stores.usage_queue
    queue.refuse_positions = {1}  # the second message: beta's (tenants in order of first event)
    result = send(world, event("a1"), event("b1", tenant="beta"), event("a2"), event("x", meter="unknown"))
    assert (result.accepted, result.queue_failed, result.messages) == (2, 1, 1)
    assert [r.index for r in result.rejected] == [1, 3]
    assert [e.message for e in result.rejected[0].errors] == [QUEUE_FAILED]
    assert result.rejected[0].id == "b1"
    assert [(r.index, r.retryable) for r in result.rejected] == [(1, True), (3, False)]
    assert [m.tenant for m in messages(world)] == ["acme"]
    assert result.as_dict()["accepted"] == 2
