"""unique_count through the consumer's service (CountUsage) on the fake ledger: exact day,
month and lifetime counts at 100,000 distinct values a month, with values repeated across
days, months and messages, and through failures and redeliveries (docs/storage.md, "Value
claims")."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fakes.world import World
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.periods import Window, utc_key, window_start, zone
from tollgate.domain.times import format_time
from tollgate.domain.unique_values import DayClaim, LifetimeClaim
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.services import count_usage as count_usage_module
from tollgate.wire.usage_message import encode

pytestmark = pytest.mark.long(40)  # ~40 s in CI: make test starts it first (tests/conftest.py)

TZ = "Europe/Paris"
PARIS = zone(TZ)
METERS = {
    "users": MeterSpec("users", Aggregation.UNIQUE_COUNT),
    "seats": MeterSpec("seats", Aggregation.UNIQUE_COUNT, group_by=("region",)),
}
NOV = datetime(2026, 10, 31, 23, tzinfo=UTC)  # November 1st, 00:00 in Paris
DEC = datetime(2026, 11, 30, 23, tzinfo=UTC)


@pytest.fixture
def world(monkeypatch) -> World:
    monkeypatch.setattr(count_usage_module.time, "sleep", lambda _: None)
    return World()


def key(window: Window, at: datetime | None, meter: str = "users", group: tuple[str, str] | None = None) -> CounterKey:
    wk = utc_key(None if at is None else window_start(at, window, PARIS))
    if group is None:
        return CounterKey(keys.total_pk("acme", meter, window), keys.total_sk(wk))
    return CounterKey(keys.group_pk("acme", meter, window, group[0]), keys.group_sk(wk, group[1]))


class Naive:
    """The expected counts: distinct values per day, month and lifetime (by event id once)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.sets: dict[CounterKey, set[str]] = {}

    def add(self, e: UsageEvent) -> None:
        if e.id in self.seen:
            return
        self.seen.add(e.id)
        at = datetime.strptime(e.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        groups: list[tuple[str, str] | None] = [None]
        groups += [(d, e.dims[d]) for d in METERS[e.meter].group_by if d in e.dims]
        for g in groups:
            for w in (Window.DAY, Window.MONTH, Window.LIFETIME):
                k = key(w, None if w is Window.LIFETIME else at, e.meter, g)
                self.sets.setdefault(k, set()).add(e.value)

    def counts(self) -> dict[CounterKey, Decimal]:
        return {k: Decimal(len(v)) for k, v in self.sets.items()}


def counted(world: World) -> dict[CounterKey, Decimal]:
    return {k: item.v for k, item in world.stores.event_ledger.counters.items() if item.v is not None}


def send(world: World, events: list[UsageEvent], prefix: str, per_message: int = 1000, per_batch: int = 10) -> None:
    bodies = [
        (f"{prefix}-{i // per_message:05d}", encode(UsageMessage("acme", TZ, METERS, events[i : i + per_message])))
        for i in range(0, len(events), per_message)
    ]
    for i in range(0, len(bodies), per_batch):
        out = world.count_usage.count_messages(bodies[i : i + per_batch])
        assert not out.failed, out.failed


def ev(event_id: str, value: str, at: datetime, meter: str = "users", **dims: str) -> UsageEvent:
    return UsageEvent(id=event_id, meter=meter, time=format_time(at), value=value, dims=dims)


def test_100k_distinct_values_in_a_month_repeated_across_days_months_and_messages(world: World):
    rng = random.Random(9)
    naive = Naive()

    def day(month: datetime, n: int) -> datetime:
        return month + timedelta(days=n % 30, hours=rng.randrange(24), seconds=rng.randrange(3600))

    # November: 100,000 distinct users, one event each, over 30 days.
    nov = [ev(f"n{i}", f"user-{i}", day(NOV, i)) for i in range(100_000)]
    # Then 5,000 of them again on another day, and 5,000 again on the same day, all in
    # other messages (so other messages than the one that counted them see them).
    again = [ev(f"a{i}", f"user-{i * 7}", day(NOV, i * 7 + 1 + i % 5)) for i in range(5_000)]
    again += [ev(f"s{i}", f"user-{i * 3}", datetime.fromisoformat(nov[i * 3].time)) for i in range(5_000)]
    rng.shuffle(again)
    # December: 10,000 November users and 10,000 new ones.
    dec = [ev(f"d{i}", f"user-{(i * 9) % 100_000 if i % 2 else 200_000 + i}", day(DEC, i)) for i in range(20_000)]
    for e in [*nov, *again, *dec]:
        naive.add(e)
    send(world, nov, "nov")
    send(world, again, "again")
    send(world, dec, "dec")
    want = naive.counts()
    assert want[key(Window.MONTH, NOV)] == 100_000
    assert want[key(Window.LIFETIME, None)] == 110_000
    assert counted(world) == want
    ledger = world.stores.event_ledger
    # One lifetime claim per value new in a month; day claims at most one per event.
    assert ledger.requests["claim_lifetimes"] == 100_000 + 20_000
    assert ledger.requests["claim_days"] <= len(nov) + len(again) + len(dec)
    assert max(len(item) for item in ledger.values.values()) <= 31 + 2  # days, m, expires_at


def test_redelivering_everything_changes_nothing(world: World):
    events = [ev(f"e{i}", f"user-{i % 50}", NOV + timedelta(hours=i)) for i in range(400)]
    send(world, events, "m", per_message=40, per_batch=5)
    first = counted(world)
    send(world, events, "m", per_message=40, per_batch=5)  # the same messages again
    send(world, events, "other", per_message=25, per_batch=3)  # the same events in other messages
    assert counted(world) == first
    naive = Naive()
    for e in events:
        naive.add(e)
    assert first == naive.counts()


def test_group_by_scopes_count_each_dimension_value_exactly(world: World):
    events = [
        ev("1", "alice", NOV, "seats", region="eu"),
        ev("2", "alice", NOV + timedelta(hours=1), "seats", region="us"),
        ev("3", "bob", NOV + timedelta(days=1), "seats", region="eu"),
        ev("4", "alice", NOV + timedelta(days=1), "seats"),  # no region: the total only
    ]
    send(world, events[:2], "a", per_message=1)
    send(world, events[2:], "b", per_message=1)
    got = counted(world)
    assert got[key(Window.MONTH, NOV, "seats")] == 2
    assert got[key(Window.MONTH, NOV, "seats", ("region", "eu"))] == 2
    assert got[key(Window.MONTH, NOV, "seats", ("region", "us"))] == 1
    assert got[key(Window.DAY, NOV + timedelta(days=1), "seats")] == 2
    assert got[key(Window.LIFETIME, None, "seats", ("region", "us"))] == 1
    naive = Naive()
    for e in events:
        naive.add(e)
    assert got == naive.counts()


@pytest.mark.parametrize("method", ["claim_days", "claim_lifetimes"])
@pytest.mark.parametrize("after", [False, True], ids=["not-applied", "applied-response-lost"])
def test_a_value_claim_with_an_unknown_outcome_fails_its_holders_and_the_redelivery_counts_once(
    world: World, method: str, after: bool
):
    ledger = world.stores.event_ledger
    a = [ev("a1", "alice", NOV), ev("a2", "bob", NOV)]
    b = [ev("b1", "alice", NOV + timedelta(hours=2)), ev("b2", "carol", NOV + timedelta(days=3))]

    def alices(claim: DayClaim | LifetimeClaim) -> bool:
        return "m-a" in claim.holders

    ledger.fail(method, TimeoutError("read timeout"), times=1, when=alices, after=after)
    batch = [(m, encode(UsageMessage("acme", TZ, METERS, evs))) for m, evs in (("m-a", a), ("m-b", b))]
    out = world.count_usage.count_messages(batch)
    assert "m-a" in out.failed
    # Until m-a's redelivery, alice is nobody's count: at most what is known for sure.
    assert counted(world).get(key(Window.MONTH, NOV), Decimal(0)) <= 3
    # m-b is redelivered too (it may hold alice's day), then a later message repeats alice.
    pending = [(m, body) for m, body in batch if m in out.failed]
    for _ in range(3):
        if pending:
            out = world.count_usage.count_messages(pending)
            pending = [(m, body) for m, body in pending if m in out.failed]
    assert not pending
    send(world, [ev("c1", "alice", NOV + timedelta(days=3))], "m-c", per_message=1)
    naive = Naive()
    for e in [*a, *b, ev("c1", "alice", NOV + timedelta(days=3))]:
        naive.add(e)
    assert counted(world) == naive.counts()


def test_an_owner_that_died_before_its_commit_counts_on_redelivery_though_another_message_comes_first(
    world: World,
):
    """m-b claims alice's day and month, then its commit is lost. The next batch holds m-a
    (another event with alice, first in the batch) and m-b's redelivery: the values are m-b's
    and m-b counts them; m-a adds nothing for alice."""
    ledger = world.stores.event_ledger
    ledger.fail("commit", RuntimeError("lost response"))
    body_b = encode(UsageMessage("acme", TZ, METERS, [ev("b1", "alice", NOV)]))
    assert set(world.count_usage.count_messages([("m-b", body_b)]).failed) == {"m-b"}
    assert counted(world) == {}
    body_a = encode(UsageMessage("acme", TZ, METERS, [ev("a1", "alice", NOV + timedelta(minutes=5))]))
    out = world.count_usage.count_messages([("m-a", body_a), ("m-b", body_b)])
    assert not out.failed
    assert counted(world) == {
        key(Window.DAY, NOV): 1,
        key(Window.MONTH, NOV): 1,
        key(Window.LIFETIME, None): 1,
    }
