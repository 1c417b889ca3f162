"""Pure counting rules: counter keys, windows in the tenant's zone, coalescing, dedupe and
screening. How the writes are packed is tests/unit/test_commit_plan.py and test_event_log.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.domain import counting
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey, CounterUpdates, Delivery, EventRef
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.periods import Window, zone
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent, UsageMessage

PARIS = zone("Europe/Paris")
KATHMANDU = zone("Asia/Kathmandu")


def ev(id_: str, at: datetime | str, value: str = "1", meter: str = "m", **dims: str) -> UsageEvent:
    time = at if isinstance(at, str) else format_time(at)
    return UsageEvent(id=id_, meter=meter, time=time, value=value, dims=dict(dims))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def keys_by_window(targets: list[counting.CounterTarget]) -> dict[str, list[CounterKey]]:
    out: dict[str, list[CounterKey]] = {}
    for t in targets:
        out.setdefault(t.key.pk.split("#")[3], []).append(t.key)
    return out


# ------------------------------------------------------------------ windows and keys
def test_windows_follow_paris_across_the_spring_dst_change():
    meter = MeterSpec("m", Aggregation.SUM)
    # 2026-03-29: Paris goes from UTC+1 to UTC+2 at 01:00 UTC.
    before = counting.counter_targets("acme", PARIS, meter, ev("a", utc(2026, 3, 29, 0, 30, 15)))
    after = counting.counter_targets("acme", PARIS, meter, ev("b", utc(2026, 3, 30, 12, 0)))
    sks = {t.key.pk: t.key.sk for t in before}
    assert sks == {
        "T#acme#m#minute": "2026-03-29T00:30:00Z",
        "T#acme#m#hour": "2026-03-29T00:00:00Z",
        "T#acme#m#day": "2026-03-28T23:00:00Z",  # local midnight at UTC+1
        "T#acme#m#month": "2026-02-28T23:00:00Z",
        "T#acme#m#lifetime": "lifetime",
    }
    day_after = next(t.key.sk for t in after if t.key.pk.endswith("#day"))
    assert day_after == "2026-03-29T22:00:00Z"  # local midnight at UTC+2


def test_windows_follow_a_45_minute_offset():
    meter = MeterSpec("m", Aggregation.COUNT)
    # Kathmandu is UTC+05:45: 05:00Z is 10:45 local.
    targets = counting.counter_targets("acme", KATHMANDU, meter, ev("a", utc(2026, 11, 20, 5, 0, 59)))
    sks = {t.key.pk.split("#")[3]: t.key.sk for t in targets}
    assert sks == {
        "minute": "2026-11-20T05:00:00Z",
        "hour": "2026-11-20T04:15:00Z",
        "day": "2026-11-19T18:15:00Z",
        "month": "2026-10-31T18:15:00Z",
        "lifetime": "lifetime",
    }


def test_group_by_keys_only_for_dimensions_the_meter_groups_by_and_the_event_has():
    meter = MeterSpec("m", Aggregation.SUM, group_by=("region", "plan"))
    targets = counting.counter_targets("acme", PARIS, meter, ev("a", utc(2026, 11, 20, 5), region="eu", other="x"))
    by_window = keys_by_window(targets)
    assert set(by_window) == {w.value for w in Window}
    assert by_window["minute"] == [CounterKey(keys.total_pk("acme", "m", Window.MINUTE), "2026-11-20T05:00:00Z")]
    for window in (w for w in Window if w is not Window.MINUTE):  # minutes keep totals only
        assert sorted(by_window[window.value]) == sorted(
            [
                CounterKey(keys.total_pk("acme", "m", window), by_window[window.value][0].sk),
                CounterKey(
                    keys.group_pk("acme", "m", window, "region"), keys.group_sk(by_window[window.value][0].sk, "eu")
                ),
            ]
        )
    assert len(targets) == 9


def test_only_minute_counters_expire_three_days_after_their_minute():
    meter = MeterSpec("m", Aggregation.SUM, group_by=("region",))
    targets = counting.counter_targets("acme", PARIS, meter, ev("a", utc(2026, 11, 20, 5, 7, 30), region="eu"))
    for t in targets:
        if "#minute" in t.key.pk:
            assert t.expires_at == int((utc(2026, 11, 20, 5, 7) + timedelta(days=3)).timestamp())
        else:
            assert t.expires_at is None


# ------------------------------------------------------------------ coalescing
def day_key(tenant: str = "acme", meter: str = "m", sk: str = "2026-11-19T23:00:00Z") -> CounterKey:
    return CounterKey(keys.total_pk(tenant, meter, Window.DAY), sk)


def test_sum_and_count_coalesce_to_one_delta_per_key():
    u = CounterUpdates()
    s, c = MeterSpec("s", Aggregation.SUM), MeterSpec("c", Aggregation.COUNT)
    for i, value in enumerate(["1.5", "2", "0.25"]):
        u.add_event("acme", PARIS, s, ev(f"s{i}", utc(2026, 11, 20, 5, i), value, meter="s"))
        u.add_event("acme", PARIS, c, ev(f"c{i}", utc(2026, 11, 20, 5, i), "999", meter="c"))
    assert u.add[day_key(meter="s")] == Decimal("3.75")
    assert u.add[day_key(meter="c")] == 3  # a count ignores the value
    assert len([k for k in u.add if k.pk.startswith("T#acme#s#minute")]) == 3
    assert len(u.add) == 2 * (3 + 4)  # three minute keys and one key per other window, per meter


def test_sums_keep_38_significant_digits():
    u = CounterUpdates()
    meter = MeterSpec("s", Aggregation.SUM)
    u.add_event("acme", PARIS, meter, ev("a", utc(2026, 11, 20), "1e30", meter="s"))
    u.add_event("acme", PARIS, meter, ev("b", utc(2026, 11, 20), "0.000001", meter="s"))
    assert u.add[CounterKey("T#acme#s#lifetime", "lifetime")] == Decimal("1000000000000000000000000000000.000001")


def test_latest_keeps_the_greatest_event_time_not_the_last_to_arrive():
    meter = MeterSpec("l", Aggregation.LATEST)
    newer = ev("z-newer", utc(2026, 11, 20, 5, 0, 2), "5", meter="l")
    older = ev("a-older", utc(2026, 11, 20, 5, 0, 1), "7", meter="l")
    tie_low = ev("b", utc(2026, 11, 20, 5, 0, 2), "8", meter="l")
    u = CounterUpdates()
    for e in (newer, older, tie_low):  # arrival order: newest first
        u.add_event("acme", PARIS, meter, e)
    key = CounterKey("T#acme#l#lifetime", "lifetime")
    assert u.latest[key] == (f"{newer.time}#z-newer", Decimal(5))  # same time: the greater id wins
    # Any split into messages and any merge order gives the same answer.
    parts = [CounterUpdates(), CounterUpdates()]
    parts[0].add_event("acme", PARIS, meter, older)
    parts[1].add_event("acme", PARIS, meter, newer)
    parts[1].add_event("acme", PARIS, meter, tie_low)
    assert (
        CounterUpdates().merge(parts[0]).merge(parts[1]).latest
        == CounterUpdates().merge(parts[1]).merge(parts[0]).latest
        == u.latest
    )


def test_max_keeps_the_greatest_value():
    meter = MeterSpec("x", Aggregation.MAX, group_by=("region",))
    u = CounterUpdates()
    for i, (value, region) in enumerate([("3", "eu"), ("-1", "us"), ("10.5", "eu"), ("4", "eu")]):
        u.add_event("acme", PARIS, meter, ev(f"e{i}", utc(2026, 11, 20, 5), value, meter="x", region=region))
    assert u.max[CounterKey("T#acme#x#lifetime", "lifetime")] == Decimal("10.5")
    assert u.max[CounterKey("G#acme#x#lifetime#region", "lifetime#us")] == Decimal(-1)
    assert not u.add


def test_unique_count_events_add_nothing_until_their_value_claims_are_settled():
    meter = MeterSpec("u", Aggregation.UNIQUE_COUNT, group_by=("region",))
    u = CounterUpdates()
    for i, value in enumerate(["alice", "bob", "alice", "42"]):
        u.add_event("acme", PARIS, meter, ev(f"e{i}", utc(2026, 11, 20, 5), value, meter="u", region="eu"))
    assert not u.add and not u.max and not u.latest and not u.idempotent()


def test_unique_count_meters_are_counted_by_day_month_and_lifetime_only():
    meter = MeterSpec("u", Aggregation.UNIQUE_COUNT, group_by=("region",))
    targets = counting.counter_targets("acme", PARIS, meter, ev("e", utc(2026, 11, 20, 5), "alice", "u", region="eu"))
    assert sorted(t.key.pk for t in targets) == sorted(
        [f"{kind}#acme#u#{w}{dim}" for w in ("day", "month", "lifetime") for kind, dim in (("T", ""), ("G", "#region"))]
    )


# ------------------------------------------------------------------ in-batch dedupe
def message(tenant: str, events: list[UsageEvent], meters: dict[str, MeterSpec] | None = None) -> UsageMessage:
    return UsageMessage(tenant, "Europe/Paris", meters or {"m": MeterSpec("m", Aggregation.SUM)}, events)


def test_candidates_list_every_message_holding_an_event_and_the_owner_counts_it():
    e = ev("e", utc(2026, 11, 20), "2")
    a = Delivery("A", message("acme", [e, e, ev("a", utc(2026, 11, 20))]))  # e twice in A
    b = Delivery("B", message("acme", [e]))
    other_tenant = Delivery("C", message("beta", [e]))
    holders = counting.batch_candidates([a, b, other_tenant])
    assert holders[EventRef("acme", "e")] == ["A", "B"]
    assert holders[EventRef("beta", "e")] == ["C"]
    owners = {EventRef("acme", "e"): "B", EventRef("acme", "a"): "A", EventRef("beta", "e"): None}
    assert [x.id for x in counting.claimed_events(a, owners)] == ["a"]
    assert [x.id for x in counting.claimed_events(b, owners)] == ["e"]
    assert counting.claimed_events(other_tenant, owners) == []  # owned outside the batch
    owners[EventRef("acme", "e")] = "A"
    assert [x.id for x in counting.claimed_events(a, owners)] == ["e", "a"]  # once, though sent twice


# ------------------------------------------------------------------ property: exactly once
METERS = {
    "calls": MeterSpec("calls", Aggregation.COUNT, group_by=("region",)),
    "bytes": MeterSpec("bytes", Aggregation.SUM, group_by=("region",)),
    "peak": MeterSpec("peak", Aggregation.MAX),
    "temp": MeterSpec("temp", Aggregation.LATEST, group_by=("region",)),
    "users": MeterSpec("users", Aggregation.UNIQUE_COUNT),
}

event_st = st.builds(
    lambda i, meter, minute, value, region: UsageEvent(
        id=f"e{i}",
        meter=meter,
        time=format_time(utc(2026, 3, 28, 23, 50) + timedelta(minutes=minute)),  # across a Paris DST day
        value=str(value) if meter != "users" else f"user-{value % 7}",
        dims={"region": region} if region else {},
    ),
    st.integers(min_value=0, max_value=30),
    st.sampled_from(sorted(METERS)),
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=1000).map(lambda v: Decimal(v) / 4),
    st.sampled_from([None, "eu", "us"]),
)


@given(
    pool=st.lists(event_st, min_size=1, max_size=25, unique_by=lambda e: e.id),
    picks=st.lists(
        st.tuples(st.integers(min_value=0, max_value=24), st.integers(min_value=0, max_value=5)), max_size=60
    ),
    order=st.randoms(use_true_random=False),
)
@settings(max_examples=150, deadline=None)
def test_coalesced_updates_equal_the_naive_per_event_fold(pool, picks, order):
    """Any multiset of events (duplicates included), split into any messages in any order:
    the messages' coalesced updates, merged, equal folding each distinct event once."""
    sent = [(pool[i % len(pool)], m) for i, m in picks] + [(e, 0) for e in pool]  # every event sent at least once
    order.shuffle(sent)
    by_message: dict[int, list[UsageEvent]] = {}
    for e, m in sent:
        by_message.setdefault(m, []).append(e)
    deliveries = [
        Delivery(f"msg-{m}", UsageMessage("acme", "Europe/Paris", METERS, evs)) for m, evs in by_message.items()
    ]
    order.shuffle(deliveries)
    owners = {ref: holders[0] for ref, holders in counting.batch_candidates(deliveries).items()}
    merged = CounterUpdates()
    for d in reversed(deliveries):
        merged.merge(counting.updates_for(d.message, counting.claimed_events(d, owners)))

    naive: dict[CounterKey, object] = {}
    for e in pool:
        meter = METERS[e.meter]
        for t in counting.counter_targets("acme", PARIS, meter, e):
            if meter.aggregation is Aggregation.COUNT:
                naive[t.key] = naive.get(t.key, 0) + 1
            elif meter.aggregation is Aggregation.SUM:
                naive[t.key] = naive.get(t.key, 0) + Decimal(e.value)
            elif meter.aggregation is Aggregation.MAX:
                naive[t.key] = max(naive.get(t.key, Decimal("-Infinity")), Decimal(e.value))
            elif meter.aggregation is Aggregation.LATEST:
                naive[t.key] = max(naive.get(t.key, ("", None)), (f"{e.time}#{e.id}", Decimal(e.value)))
            # unique_count: value claims (tests/unit/test_unique_values.py)
    got = {**merged.add, **merged.max, **merged.latest}
    assert got == naive
