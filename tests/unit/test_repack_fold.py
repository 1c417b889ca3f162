"""The repack stage's folding rule: every event exactly once, per tenant, within the limits."""

from __future__ import annotations

from collections import Counter

from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.wire.repack import fold
from tollgate.wire.usage_message import decode

CALLS = MeterSpec("calls", Aggregation.COUNT)
TOKENS = MeterSpec("tokens", Aggregation.SUM, group_by=("model",))


def message(tenant: str, ids: range, meter: MeterSpec = CALLS, tz: str = "UTC") -> UsageMessage:
    events = [
        UsageEvent(id=f"{tenant}-{i}", meter=meter.key, time="2026-11-20T05:00:00.000000Z", value="1") for i in ids
    ]
    return UsageMessage(tenant, tz, {meter.key: meter}, events)


def test_one_event_messages_of_one_tenant_fold_into_one_message_naming_every_source():
    sources = [(f"m{i}", message("acme", range(i, i + 1))) for i in range(300)]
    out = fold(sources)
    assert len(out) == 1
    assert out[0].sources == tuple(f"m{i}" for i in range(300))
    assert [e.id for e in decode(out[0].body).events] == [f"acme-{i}" for i in range(300)]


def test_tenants_zones_and_differing_meter_definitions_never_share_a_message():
    renamed = MeterSpec("calls", Aggregation.SUM)  # the same key, defined differently
    sources = [
        ("a1", message("acme", range(2))),
        ("b1", message("beta", range(2))),
        ("a2", message("acme", range(2, 4), tz="Europe/Paris")),
        ("a3", message("acme", range(4, 6), meter=renamed)),
        ("a4", message("acme", range(6, 8), meter=TOKENS)),  # another meter: compatible
    ]
    out = {f.sources: decode(f.body) for f in fold(sources)}
    assert set(out) == {("a1", "a4"), ("b1",), ("a2",), ("a3",)}
    merged = out[("a1", "a4")]
    assert set(merged.meters) == {"calls", "tokens"} and merged.meters["calls"] == CALLS
    assert out[("a2",)].timezone == "Europe/Paris"
    assert out[("a3",)].meters["calls"] == renamed


def test_limits_cut_folded_messages_and_every_event_travels_exactly_once():
    sources = [(f"m{i}", message("acme", range(7 * i, 7 * i + 7))) for i in range(500)]  # 3,500 events
    by_events = fold(sources, max_events=1_000)
    assert [f.events for f in by_events] == [1_000, 1_000, 1_000, 500]
    by_bytes = fold(sources, max_bytes=20_000)
    for folded in (by_events, by_bytes):
        seen = Counter(e.id for f in folded for e in decode(f.body).events)
        assert set(seen.values()) == {1} and len(seen) == 3_500
        for f in folded:  # a source is named by each message that carries any of its events
            carried = {e.id.split("-")[1] for e in decode(f.body).events}
            assert {s for s in f.sources} == {f"m{int(i) // 7}" for i in carried}
    assert all(len(f.body) <= 20_000 for f in by_bytes) and len(by_bytes) > 4
