"""The pure planning of unique_count value claims (tollgate.domain.unique_values): which
claims a wave makes, and which message adds 1 to which counter once the claims answer."""

from __future__ import annotations

from datetime import UTC, datetime

from tollgate.domain import unique_values as uv
from tollgate.domain.counting import CounterKey
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.periods import zone
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent
from tollgate_dev.cost import item_size

PARIS = zone("Europe/Paris")
USERS = MeterSpec("users", Aggregation.UNIQUE_COUNT, group_by=("region",))


def ev(value: str, at: datetime, **dims: str) -> UsageEvent:
    return UsageEvent(id=f"{value}@{at.isoformat()}", meter="users", time=format_time(at), value=value, dims=dims)


def scope(value: str, at: datetime) -> uv.ValueScope:
    return uv.value_scopes("acme", PARIS, USERS, ev(value, at))[0]


NOV20 = datetime(2026, 11, 20, 5, tzinfo=UTC)
NOV21 = datetime(2026, 11, 21, 5, tzinfo=UTC)
DEC01 = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # already December 1st in Paris


def test_scopes_are_the_total_and_each_dimension_the_event_carries_in_the_tenants_zone():
    total, region = uv.value_scopes("acme", PARIS, USERS, ev("alice", DEC01, region="eu"))
    assert (total.month_sk, total.day) == ("M#2026-11-30T23:00:00Z", "d01")
    assert total.day_key == CounterKey("T#acme#users#day", "2026-11-30T23:00:00Z")
    assert total.month_key == CounterKey("T#acme#users#month", "2026-11-30T23:00:00Z")
    assert total.lifetime_key == CounterKey("T#acme#users#lifetime", "lifetime")
    assert region.lifetime_key == CounterKey("G#acme#users#lifetime#region", "lifetime#eu")
    assert total.pk != region.pk and total.pk.startswith("V#acme#users#") and len(total.pk.split("#")[3]) == 32
    assert total.month_end == int(datetime(2026, 12, 31, 23, tzinfo=UTC).timestamp())
    # The same value in another scope, or another value, is another item; the same is the same.
    assert uv.value_hash(None, None, "alice") == uv.value_hash(None, None, "alice") != uv.value_hash(None, None, "bob")
    assert uv.value_hash("region", "eu", "alice") != uv.value_hash("region", "e", "ualice")
    assert len(uv.value_scopes("acme", PARIS, USERS, ev("alice", NOV20))) == 1  # no region: the total only


def test_owner_tags_are_short_so_a_month_item_with_31_days_stays_under_one_kb():
    tags = {uv.owner_tag(f"0c5f8e2a-1b7d-4c3e-9f00-{i:012d}") for i in range(1000)}
    assert len(tags) == 1000 and {len(t) for t in tags} == {16}
    longest = MeterSpec("m" * 64, Aggregation.UNIQUE_COUNT)  # the longest meter key and tenant id
    event = UsageEvent(id="e", meter=longest.key, time=format_time(NOV20), value="alice")
    s = uv.value_scopes("t" * 64, PARIS, longest, event)[0]
    item = {"pk": {"S": s.pk}, "sk": {"S": s.month_sk}, "m": {"S": tags.pop()}, "expires_at": {"N": "1900000000"}}
    item |= {f"d{d:02d}": {"S": tags.pop()} for d in range(1, 32)}
    assert item_size(item) < 1024


def test_one_day_claim_per_value_and_day_by_the_first_holder_in_batch_order():
    a, b = scope("alice", NOV20), scope("alice", NOV21)
    claims = uv.day_claims([("m1", [a, a]), ("m2", [b]), ("m3", [a])])
    assert [(c.scope.day, c.claimer, c.holders) for c in claims] == [
        ("d20", "m1", ("m1", "m3")),
        ("d21", "m2", ("m2",)),
    ]


def owners(day: str, month: str | None = None) -> uv.DayOwners:
    return uv.DayOwners(uv.owner_tag(day), uv.owner_tag(month or day))


def test_the_day_owner_adds_to_the_day_and_the_month_owner_to_the_month_once_then_claims_the_lifetime():
    a, b = scope("alice", NOV20), scope("alice", NOV21)
    claims = uv.day_claims([("m1", [a]), ("m2", [b]), ("m3", [a])])
    plan = uv.ValuePlan()
    # m1 took day 20 and the month; m2 took day 21 (the month was m1's already).
    lifetimes = uv.settle_days(claims, [owners("m1"), owners("m2", "m1")], plan)
    assert plan.adds == {"m1": {a.day_key: 1, a.month_key: 1}, "m2": {b.day_key: 1}}
    assert [(c.pk, c.claimer, c.holders) for c in lifetimes] == [(a.pk, "m1", ("m1",))]
    uv.settle_lifetimes(lifetimes, [uv.owner_tag("m1")], plan)
    assert plan.adds["m1"] == {a.day_key: 1, a.month_key: 1, a.lifetime_key: 1}
    assert not plan.failed


def test_owners_outside_the_wave_mean_the_value_is_already_counted():
    a = scope("alice", NOV20)
    plan = uv.ValuePlan()
    lifetimes = uv.settle_days(uv.day_claims([("m2", [a])]), [owners("m-earlier")], plan)
    assert plan.adds == {} and lifetimes == []
    # A new day of a month owned by an earlier message: the day only.
    b = scope("alice", NOV21)
    lifetimes = uv.settle_days(uv.day_claims([("m2", [b])]), [owners("m2", "m-earlier")], plan)
    assert plan.adds == {"m2": {b.day_key: 1}} and lifetimes == []
    # A month new, but the value seen in an earlier month: the lifetime is not the wave's.
    plan = uv.ValuePlan()
    lifetimes = uv.settle_days(uv.day_claims([("m2", [a])]), [owners("m2")], plan)
    uv.settle_lifetimes(lifetimes, [uv.owner_tag("m-last-month")], plan)
    assert plan.adds == {"m2": {a.day_key: 1, a.month_key: 1}}


def test_the_owner_found_by_a_later_holders_claim_still_counts():
    """m3 owns day 20 from an earlier delivery that died before its commit; m1 comes first in
    this batch and claims: the claim fails and says m3, which counts it."""
    a = scope("alice", NOV20)
    plan = uv.ValuePlan()
    lifetimes = uv.settle_days(uv.day_claims([("m1", [a]), ("m3", [a])]), [owners("m3")], plan)
    uv.settle_lifetimes(lifetimes, [uv.owner_tag("m3")], plan)
    assert plan.adds == {"m3": {a.day_key: 1, a.month_key: 1, a.lifetime_key: 1}}


def test_one_lifetime_claim_per_value_and_only_its_owner_counts():
    nov, dec = scope("alice", NOV20), scope("alice", DEC01)
    plan = uv.ValuePlan()
    lifetimes = uv.settle_days(uv.day_claims([("m1", [dec]), ("m2", [nov])]), [owners("m1"), owners("m2")], plan)
    assert [(c.claimer, c.holders) for c in lifetimes] == [("m1", ("m1", "m2"))]
    uv.settle_lifetimes(lifetimes, [uv.owner_tag("m1")], plan)
    assert plan.adds == {
        "m1": {dec.day_key: 1, dec.month_key: 1, dec.lifetime_key: 1},
        "m2": {nov.day_key: 1, nov.month_key: 1},
    }


def test_a_claim_with_an_unknown_outcome_fails_every_message_holding_it():
    a, b = scope("alice", NOV20), scope("bob", NOV20)
    plan = uv.ValuePlan()
    lost = TimeoutError("read timeout")
    lifetimes = uv.settle_days(uv.day_claims([("m1", [a]), ("m2", [a, b])]), [lost, owners("m2")], plan)
    assert set(plan.failed) == {"m1", "m2"}
    assert lifetimes == []  # a failed message claims nothing more; its redelivery will
    plan = uv.ValuePlan()
    lifetimes = uv.settle_days(uv.day_claims([("m1", [a]), ("m2", [b])]), [owners("m1"), owners("m2")], plan)
    uv.settle_lifetimes(lifetimes, [lost, uv.owner_tag("m2")], plan)
    assert set(plan.failed) == {"m1"} and b.lifetime_key in plan.adds["m2"]
