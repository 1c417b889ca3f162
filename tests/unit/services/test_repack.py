"""The repack stage on the fakes: ingest routes small messages to the pack queue; the repack
service folds them and acknowledges a source only when every folded message carrying its
events was queued."""

from __future__ import annotations

import pytest

from tests.fakes.queues import FakeUsageQueue
from tests.fakes.world import World
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.services.ingest import QUEUE_FAILED, IngestService, QueueUnavailable
from tollgate.services.repack import RepackService
from tollgate.wire.repack import DIRECT_EVENTS
from tollgate.wire.usage_message import decode, encode

from .conftest import add_meter, add_tenant, tenant_principal

CALLS = MeterSpec("calls", Aggregation.COUNT)


def routed_world() -> tuple[World, IngestService, FakeUsageQueue]:
    w = World()
    add_tenant(w, "acme")
    add_meter(w, "calls", Aggregation.COUNT)
    pack = FakeUsageQueue()
    return w, IngestService(w.catalog, w.stores.usage_queue, w.clock, pack_queue=pack), pack


def events(n: int, prefix: str = "e") -> list[dict]:
    return [{"id": f"{prefix}{i}", "type": "calls", "time": "2026-11-20T09:00:00Z", "data": {}} for i in range(n)]


def test_small_requests_go_to_the_pack_queue_and_large_ones_straight_to_the_usage_queue():
    w, ingest, pack = routed_world()
    principal = tenant_principal("acme")
    assert ingest.ingest(principal, events(1)).accepted == 1
    assert ingest.ingest(principal, events(DIRECT_EVENTS - 1, "s")).accepted == DIRECT_EVENTS - 1
    assert ingest.ingest(principal, events(DIRECT_EVENTS, "l")).accepted == DIRECT_EVENTS
    assert [len(decode(b).events) for b in pack.bodies] == [1, DIRECT_EVENTS - 1]
    assert [len(decode(b).events) for b in w.stores.usage_queue.bodies] == [DIRECT_EVENTS]


def test_events_the_pack_queue_refuses_are_rejected_for_the_client_to_send_again():
    w, ingest, pack = routed_world()
    add_tenant(w, "beta")
    pack.refuse_all = True
    small = [dict(e, subject="acme") for e in events(2, "a")]
    large = [dict(e, subject="beta", id=f"b{i}") for i, e in enumerate(events(DIRECT_EVENTS))]
    result = ingest.ingest(Principal(key_id="key_i", scope=Scope.INGEST), small + large)
    assert result.accepted == DIRECT_EVENTS and result.queue_failed == 2
    assert [(r.index, r.id, r.errors[0].message) for r in result.rejected] == [
        (0, "a0", QUEUE_FAILED),
        (1, "a1", QUEUE_FAILED),
    ]
    with pytest.raises(QueueUnavailable):
        ingest.ingest(tenant_principal("acme"), events(1, "c"))


def source(message_id: str, tenant: str, ids: list[str]) -> dict:
    body = encode(UsageMessage(tenant, "UTC", {"calls": CALLS}, [_event(i) for i in ids]))
    return {"messageId": message_id, "body": body}


def _event(event_id: str) -> UsageEvent:
    return UsageEvent(event_id, "calls", "2026-11-20T09:00:00.000000Z", "1")


def test_sources_fold_per_tenant_and_every_event_is_queued_once():
    queue = FakeUsageQueue()
    records = [source(f"m{i}", "acme" if i % 2 else "beta", [f"e{i}"]) for i in range(40)]
    outcome = RepackService(queue).repack_batch({"Records": records + records[:3]})  # records repeated
    assert outcome.failed == {} and outcome.sources == 40 and outcome.sent == 2 and outcome.events == 40
    folded = {decode(b).tenant: sorted(e.id for e in decode(b).events) for b in queue.bodies}
    assert folded == {
        "acme": sorted(f"e{i}" for i in range(1, 40, 2)),
        "beta": sorted(f"e{i}" for i in range(0, 40, 2)),
    }


def test_a_poison_source_fails_alone():
    queue = FakeUsageQueue()
    records = [source("good", "acme", ["a"]), {"messageId": "bad", "body": "{not json"}]
    records.append({"messageId": "bad-tenant", "body": records[0]["body"].replace('"acme"', '"a#b"')})
    outcome = RepackService(queue).repack_batch({"Records": records})
    assert set(outcome.failed) == {"bad", "bad-tenant"} and outcome.poison == 2
    assert [e.id for b in queue.bodies for e in decode(b).events] == ["a"]


def test_a_folded_message_sqs_refuses_fails_exactly_its_sources():
    queue = FakeUsageQueue()
    queue.refuse_positions = {1}  # the second folded message (tenant beta) is refused
    records = [source("a1", "acme", ["x"]), source("b1", "beta", ["y"]), source("a2", "acme", ["z"])]
    outcome = RepackService(queue).repack_batch({"Records": records})
    assert set(outcome.failed) == {"b1"}
    for record in records:
        try:
            outcome.record_handler(record)
        except Exception:  # noqa: BLE001
            assert record["messageId"] == "b1"
        else:
            assert record["messageId"] != "b1"
