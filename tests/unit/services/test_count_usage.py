"""CountUsage on the fakes (FakeEventLedger, FakeQuarantineLog, FakeClock): each event counted
once across messages and redeliveries, and each failure kept to the messages that caused it
(docs/storage.md, "Isolation")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.clock import T0
from tests.fakes.world import World
from tollgate.adapters.commit_plan import CommitUnit
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.periods import Window, utc_key, window_start, zone
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.services import count_usage as count_usage_module
from tollgate.services.count_usage import BatchOutcome
from tollgate.services.ports import StoreBusy, StoreRefused
from tollgate.wire.usage_message import encode

TZ = "Europe/Paris"
METERS = {
    "bytes": MeterSpec("bytes", Aggregation.SUM),
    "peak": MeterSpec("peak", Aggregation.MAX),
    "users": MeterSpec("users", Aggregation.UNIQUE_COUNT),
}
AT = format_time(T0)


def ev(event_id: str, value: str = "1", meter: str = "bytes") -> UsageEvent:
    return UsageEvent(id=event_id, meter=meter, time=AT, value=value)


def body(*events: UsageEvent, tenant: str = "acme") -> str:
    return encode(UsageMessage(tenant, TZ, METERS, list(events)))


def month(tenant: str = "acme", meter: str = "bytes") -> CounterKey:
    start = window_start(T0, Window.MONTH, zone(TZ))
    return CounterKey(keys.total_pk(tenant, meter, Window.MONTH), keys.total_sk(utc_key(start)))


@pytest.fixture
def world(monkeypatch) -> World:
    monkeypatch.setattr(count_usage_module.time, "sleep", lambda _: None)  # the commit backoff
    return World()


def count(world: World, *messages: tuple[str, str]) -> BatchOutcome:
    return world.count_usage.count_messages(list(messages))


def total(world: World, tenant: str = "acme") -> Decimal | None:
    return world.stores.event_ledger.value(month(tenant))


def units_of(*ids: str):
    return lambda units: any(u.message_id in ids for u in units)


# ------------------------------------------------------------------ exactly once
def test_a_batch_counts_each_event_once(world: World):
    out = count(world, ("m1", body(ev("e1", "1"), ev("e2", "2"))), ("m2", body(ev("e3", "4"))))
    assert (out.failed, out.counted, out.recounted, out.duplicates) == ({}, 3, 0, 0)
    ledger = world.stores.event_ledger
    assert total(world) == Decimal(7)
    assert set(ledger.message_markers) == {keys.message_marker_pk("m1"), keys.message_marker_pk("m2")}
    assert sorted(ledger.logged_ids("acme")) == ["e1", "e2", "e3"]
    assert ledger.owner("acme", "e3") == "m2"


def test_a_redelivered_message_counts_nothing_more(world: World):
    batch = [("m1", body(ev("e1", "1"), ev("e2", "2"))), ("m2", body(ev("e3", "4")))]
    count(world, *batch)
    again = count(world, *batch)
    assert (again.failed, again.counted, again.recounted) == ({}, 0, 3)
    assert total(world) == Decimal(7)
    assert world.stores.event_ledger.calls["commit"] == 1  # the markers were found: no second commit


def test_the_same_event_in_two_messages_of_a_batch_counts_once(world: World):
    out = count(world, ("m1", body(ev("e1", "5"))), ("m2", body(ev("e1", "5"), ev("e2", "1"))))
    assert (out.failed, out.counted, out.duplicates) == ({}, 2, 1)
    assert total(world) == Decimal(6)
    later = count(world, ("m3", body(ev("e2", "1"))))  # and across batches
    assert (later.counted, later.duplicates) == (0, 1)
    assert total(world) == Decimal(6)


def test_an_event_claimed_by_a_later_message_of_the_batch_is_still_counted(world: World):
    ledger = world.stores.event_ledger
    ledger.fail("commit", RuntimeError("lost response"))
    first = count(world, ("m2", body(ev("e1", "3"))))  # m2 claims e1, then its commit is lost
    assert set(first.failed) == {"m2"}
    out = count(world, ("m1", body(ev("e1", "3"))), ("m2", body(ev("e1", "3"))))
    assert (out.failed, out.counted, out.duplicates) == ({}, 1, 1)
    assert total(world) == Decimal(3)
    assert ledger.owner("acme", "e1") == "m2"


def test_an_id_consumed_first_is_not_counted_again(world: World):
    world.stores.counter_store.put_marker("acme", "e1", {"allowed": True, "reason": None, "limits": []}, 0)
    out = count(world, ("m1", body(ev("e1", "3"), ev("e2", "1"))))
    assert (out.counted, out.duplicates) == (1, 1)
    assert total(world) == Decimal(1)


def test_idempotent_and_unique_updates_are_applied_for_owned_events(world: World):
    count(world, ("m1", body(ev("p1", "7", "peak"), ev("u1", "alice", "users"), ev("u2", "bob", "users"))))
    count(world, ("m2", body(ev("p2", "5", "peak"), ev("u3", "alice", "users"))))
    ledger = world.stores.event_ledger
    assert ledger.value(month(meter="peak")) == Decimal(7)
    assert ledger.value(month(meter="users")) == Decimal(2)


# ------------------------------------------------------------------ isolation
def test_a_poison_body_fails_alone(world: World):
    out = count(world, ("m1", body(ev("e1", "2"))), ("m-bad", "{not json"), ("m2", body(ev("e2", "3"))))
    assert set(out.failed) == {"m-bad"}
    assert (out.poison, out.counted) == (1, 2)
    assert total(world) == Decimal(5)


def test_a_commit_the_store_throttles_is_retried(world: World):
    ledger = world.stores.event_ledger
    ledger.fail("commit", StoreBusy("ThrottlingException"), times=2)
    out = count(world, ("m1", body(ev("e1", "2"))), ("m2", body(ev("e2", "3"))))
    assert (out.failed, out.counted) == ({}, 2)
    assert ledger.calls["commit"] == 3
    assert total(world) == Decimal(5)


def test_a_commit_busy_past_the_attempts_fails_its_messages(world: World):
    ledger = world.stores.event_ledger
    ledger.fail("commit", StoreBusy("ThrottlingException"), times=None)
    out = count(world, ("m1", body(ev("e1", "2"))))
    assert set(out.failed) == {"m1"}
    assert ledger.calls["commit"] == count_usage_module.COMMIT_ATTEMPTS
    assert total(world) is None


def test_a_refused_transaction_is_split_and_only_the_bad_message_fails(world: World):
    ledger = world.stores.event_ledger
    ledger.fail("commit", StoreRefused("invalid item"), times=None, when=units_of("m2"))
    out = count(
        world,
        ("m1", body(ev("e1", "1"))),
        ("m2", body(ev("e2", "2"))),
        ("m3", body(ev("e3", "4"))),
    )
    assert set(out.failed) == {"m2"}
    assert out.counted == 2
    assert total(world) == Decimal(5)
    assert [[u.message_id for u in tx] for tx in ledger.transactions] == [["m1"], ["m3"]]


def test_an_unknown_commit_error_fails_only_that_transactions_messages(world: World):
    ledger = world.stores.event_ledger
    in_failed_tx: set[str] = set()

    def first_tx(units: list[CommitUnit]) -> bool:
        ids = {u.message_id for u in units}
        if "m00" in ids:
            in_failed_tx.update(ids)
            return True
        return False

    ledger.fail("commit", RuntimeError("connection reset"), when=first_tx)
    batch = [(f"m{i:02d}", body(ev("e1", "1"), tenant=f"t{i:02d}")) for i in range(20)]  # > 100 items: 2 txs
    out = count(world, *batch)
    assert set(out.failed) == in_failed_tx
    assert 0 < len(in_failed_tx) < 20
    assert out.counted == 20 - len(in_failed_tx)
    for i in range(20):
        expected = None if f"m{i:02d}" in in_failed_tx else Decimal(1)
        assert total(world, f"t{i:02d}") == expected
    redelivered = count(world, *batch)  # SQS redelivers the failed ones (and, here, all)
    assert (redelivered.failed, redelivered.counted) == ({}, len(in_failed_tx))
    assert all(total(world, f"t{i:02d}") == Decimal(1) for i in range(20))


def test_a_failed_claim_fails_only_the_messages_holding_the_event(world: World):
    world.stores.event_ledger.fail("claim", RuntimeError("timeout"), when=lambda c: c[0].event_id == "e2")
    out = count(world, ("m1", body(ev("e1", "1"))), ("m2", body(ev("e2", "2"))), ("m3", body(ev("e2", "2"))))
    assert set(out.failed) == {"m2", "m3"}
    assert total(world) == Decimal(1)


def test_a_failed_log_write_fails_only_its_message(world: World):
    world.stores.event_ledger.fail("write_log", RuntimeError("throttled"), when=lambda c: "#m2#" in c.sk)
    out = count(world, ("m1", body(ev("e1", "1"))), ("m2", body(ev("e2", "2"))))
    assert set(out.failed) == {"m2"}
    assert total(world) == Decimal(1)  # m2 did not commit before its events were logged


def test_a_failed_idempotent_update_fails_its_contributors(world: World):
    ledger = world.stores.event_ledger
    ledger.fail("apply_idempotent", RuntimeError("throttled"), when=lambda key: key == month(meter="peak"))
    out = count(world, ("m1", body(ev("e1", "1"))), ("m2", body(ev("p1", "9", "peak"))))
    assert set(out.failed) == {"m2"}
    retry = count(world, ("m2", body(ev("p1", "9", "peak"))))
    assert (retry.failed, retry.counted) == ({}, 1)  # no additive delta: no marker, counted again
    assert ledger.value(month(meter="peak")) == Decimal(9)


def test_an_uncountable_event_is_quarantined_and_the_rest_counted(world: World):
    out = count(world, ("m1", body(ev("e1", "2"), ev("e-huge", "1e200"), ev("e3", "3"))))
    assert (out.failed, out.quarantined, out.counted) == ({}, 1, 2)
    assert total(world) == Decimal(5)
    [entry] = world.stores.quarantine_log.items["acme"].values()
    assert (entry["id"], entry["msg"]) == ("e-huge", "m1")
    assert "range" in entry["reason"]
    assert "e-huge" not in world.stores.event_ledger.logged_ids()


def test_a_message_whose_quarantine_fails_fails_alone(world: World):
    world.stores.quarantine_log.fail_ids.add("e-huge")
    out = count(world, ("m1", body(ev("e1", "2"), ev("e-huge", "1e200"))), ("m2", body(ev("e3", "3"))))
    assert set(out.failed) == {"m1"}
    assert total(world) == Decimal(3)


def test_a_message_repeated_within_one_batch_counts_once(world: World):
    message = body(ev("e1", "2"), ev("e2", "3"))
    out = count(world, ("m1", message), ("m1", message))
    assert (out.failed, out.counted, out.duplicates) == ({}, 2, 0)
    assert total(world) == Decimal(5)


# ------------------------------------------------------------------ reading claims first
def redelivered(message_id: str, text: str) -> dict:
    return {"messageId": message_id, "body": text, "attributes": {"ApproximateReceiveCount": "2"}}


def test_a_redelivery_reads_its_claims_instead_of_writing_them_again(world: World):
    ledger = world.stores.event_ledger
    ledger.fail("commit", ConnectionError("lost"), times=1)  # claimed, then the commit failed
    text = body(ev("e1", "1"), ev("e2", "2"))
    assert set(count(world, ("m1", text)).failed) == {"m1"}
    claims_before = ledger.requests["claim"]
    out = world.count_usage.count_batch({"Records": [redelivered("m1", text)]})
    assert (out.failed, out.counted) == ({}, 2)
    assert ledger.requests["claim"] == claims_before  # both owners were read, none written
    assert ledger.calls["owners"] == 1 and total(world) == Decimal(3)


def test_a_tenant_sending_many_duplicates_has_its_claims_read_first(world: World):
    ledger = world.stores.event_ledger
    count(world, ("m1", body(*(ev(f"e{i}") for i in range(10)))))
    assert ledger.calls["owners"] == 0  # no duplicates seen yet: claims are written
    resent = [ev(f"e{i}") for i in range(5)] + [ev(f"n{i}") for i in range(5)]  # half retries
    count(world, ("m2", body(*resent)))
    assert ledger.calls["owners"] == 0 and ledger.requests["claim"] == 20  # learning: 5 failed claims
    count(world, ("m3", body(*(ev(f"e{i}") for i in range(5, 10)), *(ev(f"k{i}") for i in range(5)))))
    assert ledger.calls["owners"] == 1 and ledger.requests["claim"] == 25  # only the 5 new ones
    assert total(world) == Decimal(20)
    count(world, ("m4", body(*(ev(f"z{i}") for i in range(10)), tenant="beta")))
    assert ledger.calls["owners"] == 1  # another tenant, no duplicates: not read


def test_a_failed_read_falls_back_to_claims_and_a_stale_read_to_the_claims_condition(world: World):
    ledger = world.stores.event_ledger
    text = body(ev("e1", "1"), ev("e2", "2"))
    count(world, ("m1", text))
    ledger.fail("owners", ConnectionError("read failed"))
    out = world.count_usage.count_batch({"Records": [redelivered("m1", text), redelivered("m2", text)]})
    assert (out.failed, out.counted, out.recounted, out.duplicates) == ({}, 0, 2, 2)
    real = ledger.owners
    ledger.owners = lambda refs: {}  # type: ignore[method-assign] - a read that saw nothing yet
    try:
        out = world.count_usage.count_batch({"Records": [redelivered("m3", text)]})
    finally:
        ledger.owners = real  # type: ignore[method-assign]
    assert (out.failed, out.counted, out.duplicates) == ({}, 0, 2) and total(world) == Decimal(3)


def test_reading_every_claim_first_means_a_retry_never_costs_a_write():
    world = World(read_first="always")
    ledger = world.stores.event_ledger
    count(world, ("m1", body(*(ev(f"e{i}") for i in range(10)))))
    assert ledger.calls["owners"] == 1 and ledger.requests["claim"] == 10  # nothing claimed yet: all written
    out = count(world, ("m2", body(*(ev(f"e{i}") for i in range(5)), *(ev(f"n{i}") for i in range(5)))))
    assert (out.counted, out.duplicates) == (5, 5)
    assert ledger.requests["claim"] == 15  # the first retry seen already costs no write
    assert total(world) == Decimal(15)
    with pytest.raises(ValueError, match="read_first"):
        World(read_first="sometimes")
