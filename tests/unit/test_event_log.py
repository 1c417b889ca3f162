"""The raw-event log's storage form: chunks, the page cursor and the newest-first merge
(tollgate.adapters.event_log). Pure."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.adapters import event_log
from tollgate.domain import storage_keys as keys
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent


def ev(id_: str, at: datetime, **dims: str) -> UsageEvent:
    return UsageEvent(id=id_, meter="m", time=format_time(at), value="1", dims=dict(dims))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_log_chunks_split_by_utc_day_and_size_and_are_deterministic():
    events = [ev(f"e{i:03d}", utc(2026, 11, 20, 23, 59, 0) + timedelta(seconds=i * 7), data="x") for i in range(40)]
    events = [UsageEvent(e.id, e.meter, e.time, e.value, data={"pad": "p" * 50}) for e in events]
    chunks = event_log.log_chunks("acme", "msg-1", list(reversed(events)), max_raw_bytes=1200)
    shard = keys.log_shard("msg-1")
    assert {c.pk for c in chunks} == {f"L#acme#2026-11-20#{shard}", f"L#acme#2026-11-21#{shard}"}
    flat = [d for c in chunks for d in c.events]
    assert [d["id"] for d in flat] == [e.id for e in events]  # each once, oldest first
    for part, c in enumerate(chunks):
        assert c.sk == keys.log_sk(c.newest, "msg-1", part)
        assert c.newest == c.events[-1]["time"] and c.oldest == c.events[0]["time"]
        assert c.pk == keys.log_pk("acme", c.newest[:10], shard) == keys.log_pk("acme", c.oldest[:10], shard)
        assert event_log.decompress_events(c.body()) == list(c.events)
    assert len(chunks) > 2
    assert event_log.log_chunks("acme", "msg-1", random.Random(3).sample(events, len(events)), 1200) == chunks


def test_a_message_s_chunks_all_go_to_its_shard_on_every_delivery():
    events = [ev(f"e{i:03d}", utc(2026, 11, 20, 22) + timedelta(minutes=i * 7)) for i in range(60)]
    for message_id in ("9c8a6b0e-1f2d-4a5b-8c7d-0e1f2a3b4c5d", "m-2", "m-3"):
        chunks = event_log.log_chunks("acme", message_id, events, max_raw_bytes=600)
        assert len({c.pk[:-2] for c in chunks}) == 2 and len(chunks) > 4  # two days, many parts
        assert {c.pk.rsplit("#", 1)[1] for c in chunks} == {str(keys.log_shard(message_id))}
        again = event_log.log_chunks("acme", message_id, list(reversed(events)), max_raw_bytes=600)
        assert [(c.pk, c.sk, c.body()) for c in again] == [(c.pk, c.sk, c.body()) for c in chunks]


def test_messages_spread_evenly_over_the_log_shards():
    ids = [f"{i:08x}-5e1a-4c3b-9d2e-{i * 7919:012x}" for i in range(4000)]
    per_shard = Counter(keys.log_shard(i) for i in ids)
    assert sorted(per_shard) == list(range(keys.LOG_SHARDS))
    mean = len(ids) / keys.LOG_SHARDS
    assert all(abs(n - mean) < 0.15 * mean for n in per_shard.values()), per_shard


def test_the_shard_is_a_stable_hash_not_python_s_salted_one():
    # Pinned: a change here moves redelivered messages to other keys (duplicate chunks).
    assert keys.LOG_SHARDS == 8
    assert [keys.log_shard(m) for m in ("m-1", "m-2", "9c8a6b0e-1f2d-4a5b-8c7d-0e1f2a3b4c5d")] == [5, 6, 7]
    assert keys.log_pk("acme", "2026-11-20", 3) == "L#acme#2026-11-20#3"
    assert keys.log_shard("\udfff") in range(keys.LOG_SHARDS)  # any text, surrogates included


def test_cursor_round_trips_and_is_bound_to_its_tenant():
    cursor = event_log.encode_cursor("2026-11-20T05:00:00.000000Z", "acme", "e/1")
    assert event_log.decode_cursor(cursor, "acme") == ("2026-11-20T05:00:00.000000Z", "e/1")
    with pytest.raises(ValueError):
        event_log.decode_cursor(cursor, "beta")
    for garbage in ("", "!!!", "bm90IGpzb24", event_log.encode_cursor("yesterday", "acme", "e")):
        with pytest.raises(ValueError):
            event_log.decode_cursor(garbage, "acme")


times = st.integers(min_value=0, max_value=40).map(lambda s: format_time(utc(2026, 11, 20, 5) + timedelta(seconds=s)))


@given(
    chunk_events=st.lists(st.lists(st.tuples(times, st.sampled_from("abcdef")), max_size=6), max_size=8),
    lower=times,
    span=st.integers(min_value=0, max_value=40),
    cut=st.integers(min_value=0, max_value=30),
)
@settings(max_examples=200, deadline=None)
def test_merge_is_exact_and_newest_first_whatever_the_chunks(chunk_events, lower, span, cut):
    seen, chunks = set(), []
    for n, evs in enumerate(chunk_events):
        uniq = [
            {"time": t, "id": f"{i}{n}"} for t, i in evs if (t, f"{i}{n}") not in seen and not seen.add((t, f"{i}{n}"))
        ]
        if uniq:
            chunks.append((max(e["time"] for e in uniq), uniq))
    chunks.sort(key=lambda c: c[0], reverse=True)
    upper = format_time(datetime.strptime(lower, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + timedelta(seconds=span))
    everything = sorted(
        ((e["time"], e["id"]) for _, evs in chunks for e in evs if lower <= e["time"] < upper), reverse=True
    )
    got = [(e["time"], e["id"]) for e in event_log.merge_newest_first(chunks, lower=lower, upper=upper)]
    assert got == everything
    if cut < len(everything):
        after = everything[cut]
        rest = [
            (e["time"], e["id"]) for e in event_log.merge_newest_first(chunks, lower=lower, upper=upper, after=after)
        ]
        assert rest == everything[cut + 1 :]
