"""ConsumeService on the fakes (FakeCounterStore): the decision, its dedupe, the known-values
fast path and its fallback, contention, and validation - with the store calls each path makes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.fakes.world import World
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window, zone
from tollgate.domain.plans import Enforcement
from tollgate.domain.quota import bounds
from tollgate.domain.records import Tenant
from tollgate.services import consume as consume_module
from tollgate.services.consume import MAX_ATTEMPTS, Busy, ConsumeResult
from tollgate.services.ports import CONSUME_MSG
from tollgate.services.quotas import counter_key

from .conftest import add_meter, add_plan, add_tenant, fields_of, limit

MONTH_LIMIT = 10
DAY_SOFT_LIMIT = 3


@pytest.fixture
def world() -> World:
    w = World()
    add_meter(w, "api_calls", Aggregation.SUM)
    add_plan(
        w,
        "basic",
        [
            limit("api_calls", Window.MONTH, MONTH_LIMIT),
            limit("api_calls", Window.DAY, DAY_SOFT_LIMIT, Enforcement.SOFT),
        ],
    )
    add_tenant(w, "acme", timezone="Europe/Paris", plan="basic")
    return w


def month_key(world: World, tenant: str = "acme"):
    t = world.stores.tenant_repo.get(tenant)
    assert isinstance(t, Tenant)
    lim = limit("api_calls", Window.MONTH, MONTH_LIMIT)
    return counter_key(tenant, lim, bounds(world.clock.now(), Window.MONTH, zone(t.timezone)).start)


def consume(world: World, amount: int | str, event_id: str | None, **kw) -> ConsumeResult:
    return world.consume.consume("acme", "api_calls", Decimal(amount), event_id, **kw)


def used(result: ConsumeResult) -> dict[str, object]:
    return {e["window"]: e["used"] for e in result.doc["limits"]}


def exceeded(result: ConsumeResult) -> dict[str, bool]:
    return {e["window"]: e["exceeded"] for e in result.doc["limits"]}


# ------------------------------------------------------------------ decisions
def test_allowed_under_the_limit_is_counted_in_every_window(world: World):
    result = consume(world, 2, "e1")
    assert (result.status, result.doc["allowed"], result.doc["reason"], result.replayed) == (200, True, None, False)
    assert used(result) == {"month": 2, "day": 2}
    store = world.stores.counter_store
    assert store.value(month_key(world)) == Decimal(2)
    [writes] = store.commits
    assert len(writes) == 5  # minute, hour, day, month, lifetime totals
    assert all(store.value(w.key) == Decimal(2) for w in writes)
    assert store.markers[("acme", "e1")].msg == CONSUME_MSG


def test_denied_over_a_hard_limit_writes_nothing_but_the_denial(world: World):
    consume(world, 8, "e1")
    denied = consume(world, 3, "e2")
    assert (denied.status, denied.doc["allowed"], denied.doc["reason"]) == (429, False, "quota_exceeded")
    assert used(denied)["month"] == 8  # as found
    assert exceeded(denied)["month"] is True
    store = world.stores.counter_store
    assert store.value(month_key(world)) == Decimal(8)
    assert store.decision("acme", "e2") == denied.doc


def test_a_denied_id_stays_denied_even_when_it_would_fit(world: World):
    consume(world, 8, "e1")
    assert consume(world, 3, "e2").status == 429
    again = consume(world, 1, "e2")  # 8 + 1 fits, but the id was denied
    assert (again.status, again.replayed, again.doc["allowed"]) == (429, True, False)
    fresh = world.another_environment()  # an instance with no known values reads the marker
    elsewhere = fresh.consume.consume("acme", "api_calls", Decimal(1), "e2")
    assert (elsewhere.status, elsewhere.replayed) == (429, True)
    assert world.stores.counter_store.value(month_key(world)) == Decimal(8)


def test_a_replayed_id_answers_its_first_decision_and_counts_once(world: World):
    first = consume(world, 2, "e1")
    again = consume(world, 2, "e1")
    assert again.replayed is True
    assert again.doc == first.doc
    assert world.stores.counter_store.value(month_key(world)) == Decimal(2)
    cold = world.another_environment().consume.consume("acme", "api_calls", Decimal(2), "e1")
    assert (cold.replayed, cold.doc) == (True, first.doc)
    assert world.stores.counter_store.value(month_key(world)) == Decimal(2)


def test_a_duplicate_without_the_stored_item_asks_for_the_marker(world: World):
    store = world.stores.counter_store
    first = consume(world, 2, "e1")
    store.omit_duplicate_item = True
    again = consume(world, 2, "e1")  # known values: the bet's transaction meets the marker
    assert (again.replayed, again.doc) == (True, first.doc)
    assert store.calls["get_marker"] == 1


def test_a_soft_limit_allows_and_marks_the_overshoot(world: World):
    result = consume(world, 5, "e1")
    assert (result.status, result.doc["allowed"]) == (200, True)
    assert exceeded(result) == {"month": False, "day": True}
    assert world.stores.counter_store.value(month_key(world)) == Decimal(5)


def test_an_amount_over_the_whole_limit_is_denied_with_nothing_written(world: World):
    result = consume(world, MONTH_LIMIT + 1, "e1")
    assert result.status == 429
    store = world.stores.counter_store
    assert store.markers == {} and store.counters == {}
    assert store.calls["commit"] == store.calls["put_marker"] == 0


def test_exactly_the_limit_is_admitted_and_not_one_more(world: World):
    results = [consume(world, 1, f"e{i}") for i in range(MONTH_LIMIT + 2)]
    assert [r.status for r in results] == [200] * MONTH_LIMIT + [429, 429]
    assert world.stores.counter_store.value(month_key(world)) == Decimal(MONTH_LIMIT)


def test_amount_zero_checks_and_writes_nothing(world: World):
    consume(world, MONTH_LIMIT, "e1")
    check = consume(world, 0, None)
    assert (check.status, check.doc["allowed"]) == (429, False)
    assert set(world.stores.counter_store.markers) == {("acme", "e1")}


# ------------------------------------------------------------------ one request when the values are known
def test_known_values_decide_with_one_commit_and_no_read(world: World):
    store = world.stores.counter_store
    consume(world, 2, "e1")  # cold: one read, then the transaction
    assert (store.calls["read"], store.calls["commit"]) == (1, 1)
    second = consume(world, 3, "e2")
    assert (store.calls["read"], store.calls["commit"]) == (1, 2)
    assert used(second)["month"] == 5
    bet = {w.key: w.expected for w in store.commits[-1]}
    assert bet[month_key(world)] == Decimal(2)  # conditioned on the value it knew


def test_known_full_denies_with_one_marker_put_and_no_read(world: World):
    store = world.stores.counter_store
    consume(world, 9, "e1")
    denied = consume(world, 2, "e2")
    assert denied.status == 429
    assert (store.calls["read"], store.calls["commit"], store.calls["put_marker"]) == (1, 1, 1)


def test_a_lost_bet_falls_back_to_read_then_write(world: World):
    store = world.stores.counter_store
    consume(world, 2, "e1")
    store.set_value(month_key(world), 6)  # another instance counted 4 meanwhile
    result = consume(world, 1, "e2")
    assert (result.status, used(result)["month"]) == (200, 7)
    assert (store.calls["read"], store.calls["commit"]) == (2, 3)  # the lost bet, the read, the write
    assert store.value(month_key(world)) == Decimal(7)
    assert store.commits[-1][0].expected is None  # the second write is conditioned on a ceiling
    consume(world, 1, "e3")  # the counter cools down: this decision reads first again
    assert store.calls["read"] == 3


def test_a_lost_bet_that_shows_the_limit_full_denies_without_reading(world: World):
    store = world.stores.counter_store
    consume(world, 2, "e1")
    store.set_value(month_key(world), MONTH_LIMIT)
    denied = consume(world, 1, "e2")
    assert (denied.status, used(denied)["month"]) == (429, MONTH_LIMIT)
    assert (store.calls["read"], store.calls["commit"], store.calls["put_marker"]) == (1, 2, 1)
    assert store.value(month_key(world)) == Decimal(MONTH_LIMIT)


def test_a_ceiling_conflict_after_the_read_denies_and_records_it(world: World):
    store = world.stores.counter_store
    real_read = store.read

    def stale_read(marker, counters):  # the read is eventually consistent: it missed 9
        found = real_read(marker, counters)
        store.set_value(month_key(world), 9)
        return found

    store.read = stale_read  # type: ignore[method-assign]
    denied = consume(world, 2, "e1")
    assert (denied.status, used(denied)["month"]) == (429, 9)
    assert store.value(month_key(world)) == Decimal(9)
    assert store.decision("acme", "e1") == denied.doc


# ------------------------------------------------------------------ contention
@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(consume_module.time, "sleep", slept.append)
    return slept


def test_contention_is_retried(world: World, sleeps: list[float]):
    store = world.stores.counter_store
    store.contend(2)
    result = consume(world, 1, "e1")
    assert result.status == 200
    assert store.calls["commit"] == 3
    assert len(sleeps) == 2
    assert store.value(month_key(world)) == Decimal(1)


def test_contention_past_the_attempts_is_busy(world: World, sleeps: list[float]):
    store = world.stores.counter_store
    store.contend(MAX_ATTEMPTS)
    with pytest.raises(Busy) as exc:
        consume(world, 1, "e1")
    assert exc.value.status == 503
    assert store.calls["commit"] == MAX_ATTEMPTS
    assert len(sleeps) == MAX_ATTEMPTS
    assert store.markers == {} and store.counters == {}


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("amount", ["-1", "NaN", "Infinity", "1e31"])
def test_an_invalid_amount_is_a_422_naming_amount(world: World, amount: str):
    with pytest.raises(ValidationFailed) as exc:
        consume(world, amount, "e1")
    assert exc.value.status == 422
    assert fields_of(exc.value) == ["amount"]
    assert sum(world.stores.counter_store.calls.values()) == 0


def test_a_fraction_on_a_count_meter_is_a_422_naming_amount(world: World):
    add_meter(world, "requests", Aggregation.COUNT)
    with pytest.raises(ValidationFailed) as exc:
        world.consume.consume("acme", "requests", Decimal("1.5"), "e1")
    assert fields_of(exc.value) == ["amount"]


def test_an_id_is_required_for_a_positive_amount(world: World):
    with pytest.raises(ValidationFailed) as exc:
        consume(world, 1, None)
    assert fields_of(exc.value) == ["id"]


@pytest.mark.parametrize("offset", [timedelta(minutes=5, seconds=1), -timedelta(minutes=5, seconds=1)])
def test_a_time_more_than_5_minutes_away_is_a_422_naming_time(world: World, offset: timedelta):
    with pytest.raises(ValidationFailed) as exc:
        consume(world, 1, "e1", at=world.clock.now() + offset)
    assert exc.value.status == 422
    assert fields_of(exc.value) == ["time"]
    assert sum(world.stores.counter_store.calls.values()) == 0


@pytest.mark.parametrize("offset", [timedelta(minutes=5), -timedelta(minutes=5)])
def test_a_time_within_5_minutes_is_decided(world: World, offset: timedelta):
    assert consume(world, 1, "e1", at=world.clock.now() + offset).status == 200
