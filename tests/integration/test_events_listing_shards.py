"""GET /v1/events over the sharded raw-event log (``adapters.event_reader``): a tenant-day's
chunks are spread over ``storage_keys.LOG_SHARDS`` partition keys by message, and listing merges
them back newest first, exactly, page after page.

The data is what the consumer writes (``event_log.log_chunks`` then ``Ledger.write_log``): many
messages per day, each message's events spread over hours so that chunks of different shards
interleave in time, small chunk sizes so that a message has many parts, times on the second
(ties across messages and shards, ordered by id) and on the edges of UTC days. Listings are
compared with the naive answer: every event, filtered and sorted."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import new_root
from tests.integration.moto_world import module_aws  # noqa: F401 - fixture

DAY0 = datetime(2026, 11, 18, tzinfo=UTC)
DAYS = 3
NOW = DAY0 + timedelta(days=DAYS)
EDGES = [DAY0 + timedelta(days=d, microseconds=us) for d in range(1, DAYS) for us in (-1, 0, 1)]


def fmt(at: datetime) -> str:
    from tollgate.domain.times import format_time

    return format_time(at)


@dataclass
class Dataset:
    tenant: str
    events: list[tuple[str, str]] = field(default_factory=list)  # (time, id)
    chunks: list[Any] = field(default_factory=list)

    def naive(self, start: datetime, end: datetime, after: tuple[str, str] | None = None) -> list[tuple[str, str]]:
        lo, hi = fmt(start), fmt(end)
        return sorted(
            (e for e in self.events if lo <= e[0] < hi and (after is None or e < after)),
            reverse=True,
        )


def write_dataset(tenant: str, seed: int, messages: int = 32) -> Dataset:
    """``messages`` messages over ``DAYS`` UTC days, written as the consumer writes them."""
    from tollgate.adapters import event_log
    from tollgate.domain.usage import UsageEvent

    rng = random.Random(seed)
    data = Dataset(tenant)
    for m in range(messages):
        message_id = f"{rng.getrandbits(64):016x}-{m}"
        center = rng.uniform(0, DAYS * 86_400)
        events = []
        for _ in range(rng.randint(1, 25)):
            if rng.random() < 0.15:
                at = rng.choice(EDGES)
            else:
                second = min(max(round(center + rng.gauss(0, 14_400)), 0), DAYS * 86_400 - 1)
                at = DAY0 + timedelta(seconds=second)
            event_id = f"{rng.getrandbits(20):05x}-{len(data.events)}"
            events.append(UsageEvent(event_id, "calls", fmt(at), "1", data={"m": m}))
            data.events.append((fmt(at), event_id))
        data.chunks += event_log.log_chunks(tenant, message_id, events, max_raw_bytes=rng.choice([250, 700, 300_000]))
    ledger = new_root().ledger
    for i in range(0, len(data.chunks), 100):
        assert ledger.write_log(data.chunks[i : i + 100], NOW) == [None] * len(data.chunks[i : i + 100])
    return data


@pytest.fixture(scope="module")
def datasets(module_aws) -> list[Dataset]:
    return [write_dataset(f"shards{seed}", seed) for seed in (1, 2)]


class Spy:
    """A DynamoDB client that records each Query's key condition and the items it returned."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.queries: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def query(self, **kwargs: Any) -> dict[str, Any]:
        resp = self.client.query(**kwargs)
        self.queries.append((kwargs, resp.get("Items", [])))
        return resp

    @property
    def items_read(self) -> int:
        return sum(len(items) for _, items in self.queries)

    def pks(self) -> set[str]:
        return {q["ExpressionAttributeValues"][":p"]["S"] for q, _ in self.queries}


def reader(spy: Spy | None = None) -> Any:
    from tollgate.adapters.event_reader import EventReader

    root = new_root()
    return EventReader(spy if spy is not None else root.dynamodb, events_table=root.settings.events_table)


def pages(tenant: str, start: datetime, end: datetime, sizes: list[int]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Each page of a listing as (the limit asked, the events), following the cursors."""
    log, cursor, n = reader(), None, 0
    while True:
        limit = sizes[n % len(sizes)]
        page, cursor = log.list_events(tenant, start, end, limit, cursor)
        yield limit, page
        n += 1
        if cursor is None:
            return


def test_the_data_spreads_over_every_shard_and_days_interleave(datasets):
    from tollgate.domain import storage_keys as keys

    for data in datasets:
        per_pk = Counter(c.pk for c in data.chunks)
        assert {pk.rsplit("#", 1)[1] for pk in per_pk} == {str(s) for s in range(keys.LOG_SHARDS)}
        assert {pk.split("#")[2] for pk in per_pk} == {(DAY0 + timedelta(days=d)).date().isoformat() for d in range(3)}
        assert len(data.chunks) > 100 and len(data.events) > 300


def test_the_whole_log_lists_newest_first_exactly(datasets):
    for data in datasets[:1]:
        start, end = DAY0 - timedelta(days=1), NOW + timedelta(days=1)
        listed = list(pages(data.tenant, start, end, [7, 1, 50, 13, 100]))
        assert all(len(page) == limit for limit, page in listed[:-1])  # only the last may be short
        got = [(e["time"], e["id"]) for _, page in listed for e in page]
        assert got == data.naive(start, end)
        assert len(got) == len(data.events)


@given(
    which=st.integers(0, 1),
    start_s=st.integers(-3_600, DAYS * 86_400),
    span_s=st.integers(1, DAYS * 86_400),
    midnight=st.sampled_from(["none", "start", "end", "both"]),
    sizes=st.lists(st.integers(1, 120), min_size=1, max_size=6),
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_range_and_page_sizes_list_the_naive_answer(datasets, which, start_s, span_s, midnight, sizes):
    data = datasets[which]
    start = DAY0 + timedelta(seconds=start_s)
    end = start + timedelta(seconds=span_s)
    if midnight in ("start", "both"):
        start = start.replace(hour=0, minute=0, second=0)
    if midnight in ("end", "both"):
        end = end.replace(hour=0, minute=0, second=0) + timedelta(days=1)
    want = data.naive(start, end)
    got: list[tuple[str, str]] = []
    for limit, page in pages(data.tenant, start, end, sizes):
        keys = [(e["time"], e["id"]) for e in page]
        assert keys == want[len(got) : len(got) + len(keys)]
        got += keys
        assert len(page) == limit or len(got) == len(want)  # every page full but the last
    assert got == want


def test_a_cursor_resumes_exactly_after_its_event_whatever_the_next_limit(datasets):
    from tollgate.adapters import event_log

    data = datasets[0]
    start, end = DAY0, NOW
    want = data.naive(start, end)
    rng = random.Random(7)
    log = reader()
    for cut in rng.sample(range(len(want) - 1), 8) + [0, len(want) - 2]:
        cursor = event_log.encode_cursor(want[cut][0], data.tenant, want[cut][1])
        limit = rng.randint(1, 40)
        page, _ = log.list_events(data.tenant, start, end, limit, cursor)
        assert [(e["time"], e["id"]) for e in page] == want[cut + 1 : cut + 1 + limit]


def test_pages_that_end_on_a_day_edge_go_on_into_the_day_before(datasets):
    data = datasets[1]
    start, end = DAY0, NOW
    want = data.naive(start, end)
    midnight = fmt(DAY0 + timedelta(days=2))
    first_of_day = max(i for i, e in enumerate(want) if e[0] >= midnight)  # the day's oldest event
    log = reader()
    page, cursor = log.list_events(data.tenant, start, end, first_of_day + 1, None)
    assert [(e["time"], e["id"]) for e in page] == want[: first_of_day + 1] and cursor
    page, cursor = log.list_events(data.tenant, start, end, 5, cursor)
    assert [(e["time"], e["id"]) for e in page] == want[first_of_day + 1 : first_of_day + 6]
    assert all(e["time"] < midnight for e in page)


def test_a_small_page_reads_a_few_chunks_per_shard_not_the_day(datasets):
    from tollgate.adapters.event_reader import FIRST_PAGE_CHUNKS
    from tollgate.domain import storage_keys as keys

    data = datasets[0]
    spy = Spy(new_root().dynamodb)
    last_day = (DAY0 + timedelta(days=DAYS - 1)).date().isoformat()
    page, cursor = reader(spy).list_events(data.tenant, DAY0 - timedelta(days=30), NOW, 5, None)
    assert [(e["time"], e["id"]) for e in page] == data.naive(DAY0, NOW)[:5] and cursor
    on_the_day = sum(1 for c in data.chunks if c.pk.split("#")[2] == last_day)
    assert spy.items_read <= 2 * keys.LOG_SHARDS * FIRST_PAGE_CHUNKS < on_the_day
    assert {pk.split("#")[2] for pk in spy.pks()} == {last_day}  # no older day was queried
    assert len(spy.pks()) == keys.LOG_SHARDS


def test_on_the_cursor_s_day_chunks_newer_than_the_cursor_come_back_only_if_they_reach_below_it(module_aws):
    """Message ``wide`` holds 10:00 and 14:00 (one chunk, newest 14:00, lo 10:00); ``high``
    holds 13:00 and 13:30 (lo 13:00). With a cursor at 12:00 both are newer than the cursor by
    key, but only ``wide`` can hold older events: ``high`` is filtered out by ``lo``."""
    from tollgate.adapters import event_log
    from tollgate.domain import storage_keys as keys
    from tollgate.domain.usage import UsageEvent

    tenant, day = "lofilter", DAY0 + timedelta(days=1)

    def ev(event_id: str, hour: float) -> UsageEvent:
        return UsageEvent(event_id, "calls", fmt(day + timedelta(hours=hour)), "1")

    chunks = (
        event_log.log_chunks(tenant, "wide", [ev("w10", 10), ev("w14", 14)])
        + event_log.log_chunks(tenant, "high", [ev("h13", 13), ev("h1330", 13.5)])
        + event_log.log_chunks(tenant, "mid", [ev("m12", 12), ev("m11", 11)])
    )
    assert new_root().ledger.write_log(chunks, NOW) == [None] * 3
    spy = Spy(new_root().dynamodb)
    cursor = event_log.encode_cursor(fmt(day + timedelta(hours=12)), tenant, "m12")
    page, nxt = reader(spy).list_events(tenant, day, day + timedelta(days=1), 10, cursor)
    assert [e["id"] for e in page] == ["m11", "w10"] and nxt is None
    filtered = [items for q, items in spy.queries if "FilterExpression" in q]
    assert len(filtered) == keys.LOG_SHARDS  # one per shard of the cursor's day
    assert {i["sk"]["S"].split("#")[1] for items in filtered for i in items} == {"wide", "mid"}  # not "high"


def test_a_sparse_range_finds_the_one_old_day_and_reads_ahead_in_growing_windows(module_aws):
    from tollgate.adapters import event_log
    from tollgate.adapters.event_reader import MAX_DAYS_AHEAD
    from tollgate.domain import storage_keys as keys
    from tollgate.domain.usage import UsageEvent

    tenant, old = "sparse", DAY0 - timedelta(days=20)
    events = [UsageEvent(f"e{i}", "calls", fmt(old + timedelta(minutes=i)), "1") for i in range(3)]
    assert new_root().ledger.write_log(event_log.log_chunks(tenant, "only", events), NOW) == [None]
    spy, log = Spy(new_root().dynamodb), None
    log = reader(spy)
    rounds = []
    real_map = log._map
    log._map = lambda fn, items: rounds.append(len(items)) or real_map(fn, items)
    page, cursor = log.list_events(tenant, old - timedelta(days=5), NOW, 10, None)
    assert [e["id"] for e in page] == ["e2", "e1", "e0"] and cursor is None
    days = (NOW - old).days + 5  # the day before NOW (the end is a midnight) back to the start
    assert {pk.split("#")[2] for pk in spy.pks()} == {
        (NOW - timedelta(days=d)).date().isoformat() for d in range(1, days + 1)
    }
    assert len(spy.queries) == sum(rounds) == days * keys.LOG_SHARDS  # each day's shards once
    # 1, 2, 4, then MAX_DAYS_AHEAD days per round trip; after the found day, one day again.
    assert max(rounds) == MAX_DAYS_AHEAD * keys.LOG_SHARDS and len(rounds) <= 8 < days
