"""Reading the raw-event log for ``GET /v1/events``: ``EventReader`` is ``services.ports.RawEventLog``.

The consumer writes a message's chunks to one of ``storage_keys.LOG_SHARDS`` partition keys per
tenant and UTC day (``Ledger.write_log``). Listing walks the days from the newest, and within a
day merges the shards' chunks by newest event, descending: each shard is one Query by ``sk``
descending, read page by page only as far as the merge needs it, so a small page reads a few
chunks per shard, not the day. ``event_log.merge_newest_first`` then makes pages exact. See
docs/storage.md, "Reading the raw-event log".
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from tollgate.domain import storage_keys as keys
from tollgate.domain import stored_events
from tollgate.domain.times import format_time

from . import event_log

T = TypeVar("T")
R = TypeVar("R")

FIRST_PAGE_CHUNKS = 2
"""Chunks asked of each shard by its first Query (``Limit``); each further page asks twice as many,
up to ``MAX_PAGE_CHUNKS`` (DynamoDB stops at 1 MB anyway). A page of the default 100 events reads
a few chunks per shard; a deep page reaches full Query pages after a few round trips."""
MAX_PAGE_CHUNKS = 256

MAX_DAYS_AHEAD = 8
"""After days with no chunk at all, the next days' first Queries are sent together (1, 2, 4, up
to this many days at once): a sparse tenant's long range costs few round trips, and a day read
ahead for nothing costs its first Queries only."""

MAX_WORKERS = 16


class _ShardChunks:
    """One shard's chunks of one day as ``(sk, item)``, by ``sk`` descending: its queries in
    order (with a cursor, the chunks newer than it, filtered on ``lo``, then the older ones),
    each fetched a page at a time when the buffer runs dry."""

    def __init__(self, query: Callable[..., dict[str, Any]], queries: list[dict[str, Any]]) -> None:
        self._query = query
        self._queries = queries
        self._start: dict[str, Any] | None = None
        self._limit = FIRST_PAGE_CHUNKS
        self._buffer: deque[dict[str, Any]] = deque()

    def fetch(self) -> None:
        """Query pages until one brings a chunk (a filtered page may bring none) or the shard is
        read to its end: the merge needs each shard's next chunk, no more."""
        while not self._buffer and self._queries:
            extra = {"ExclusiveStartKey": self._start} if self._start else {}
            resp = self._query(Limit=self._limit, **self._queries[0], **extra)
            self._buffer.extend(resp.get("Items", []))
            self._start = resp.get("LastEvaluatedKey")
            self._limit = min(2 * self._limit, MAX_PAGE_CHUNKS)
            if not self._start:  # this query is done: the next one starts small again
                self._queries.pop(0)
                self._limit = FIRST_PAGE_CHUNKS

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            self.fetch()
            if not self._buffer:
                return
            item = self._buffer.popleft()
            yield item["sk"]["S"], item


class EventReader:
    """The raw-event log's reader (``services.ports.RawEventLog``) over the events table."""

    def __init__(
        self,
        client: Any,
        *,
        events_table: str,
        shards: int = keys.LOG_SHARDS,
        max_workers: int = MAX_WORKERS,
    ) -> None:
        self.client = client
        self.events_table = events_table
        self.shards = shards
        self.max_workers = max(1, max_workers)

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if self.max_workers == 1 or len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def _query(self, **kwargs: Any) -> dict[str, Any]:
        resp: dict[str, Any] = self.client.query(TableName=self.events_table, ScanIndexForward=False, **kwargs)
        return resp

    def _shard_queries(self, pk: str, top: str | None) -> list[dict[str, Any]]:
        """With ``top`` (the cursor's day), only chunks that may hold events at or before it:
        those whose newest event is older (by key range) and, among the newer ones, those whose
        oldest event is not (``lo``, filtered: DynamoDB still charges for what it reads)."""
        common = {"ProjectionExpression": "#sk, z", "ExpressionAttributeNames": {"#sk": "sk"}}
        if top is None:
            return [{"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": pk}}, **common}]
        values = {":p": {"S": pk}, ":top": {"S": top}}
        return [
            {
                "KeyConditionExpression": "pk = :p AND #sk >= :top",
                "FilterExpression": "lo <= :top",
                "ExpressionAttributeValues": values,
                **common,
            },
            {"KeyConditionExpression": "pk = :p AND #sk < :top", "ExpressionAttributeValues": values, **common},
        ]

    def _day_shards(self, tenant: str, day: date, top: str | None) -> list[_ShardChunks]:
        return [
            _ShardChunks(self._query, self._shard_queries(keys.log_pk(tenant, day.isoformat(), shard), top))
            for shard in range(self.shards)
        ]

    def _chunks(
        self, tenant: str, first_day: date, last_day: date, top: str | None
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Chunks from ``first_day`` back to ``last_day`` as ``(newest event time, events)``, by
        newest event descending: per day, the merge of its shards. Each day's shards start with
        their first Queries sent together; a chunk is decoded only when the merge reaches it."""
        day, ahead = first_day, 1
        while day >= last_day:
            days = [d for d in (day - timedelta(days=i) for i in range(ahead)) if d >= last_day]
            shards = [self._day_shards(tenant, d, top if d.isoformat() == top[:10] else None) for d in days]
            self._map(_ShardChunks.fetch, [s for day_shards in shards for s in day_shards])
            found = False
            for day_shards in shards:
                for sk, item in heapq.merge(*day_shards, key=_sk_of, reverse=True):
                    found = True
                    yield sk.split("#", 1)[0], event_log.decode_chunk(item.get("z", {}).get("B"))
            ahead = 1 if found else min(2 * ahead, MAX_DAYS_AHEAD)
            day = days[-1] - timedelta(days=1)

    def list_events(
        self, tenant: str, start: datetime, end: datetime, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Raw events of a tenant with ``start <= time < end``, newest first, ``limit`` per
        page; each as a CloudEvent. ``cursor`` is the previous page's ``next_cursor``.
        Raises ValueError for a cursor that is not valid for this tenant."""
        limit = max(1, int(limit))
        lower, upper = format_time(start), format_time(end)
        after = event_log.decode_cursor(cursor, tenant) if cursor else None
        top = min(upper, after[0]) if after else upper
        if after and after[0] < upper:  # events at the cursor's time with a smaller id come next
            first_day = datetime.strptime(top[:10], "%Y-%m-%d").replace(tzinfo=UTC).date()
        else:  # events are older than ``end``: an ``end`` at midnight needs nothing of its day
            first_day = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
        last_day = start.astimezone(UTC).date()
        chunks = self._chunks(tenant, first_day, last_day, top)
        page: list[dict[str, Any]] = []
        more = False
        for event in event_log.merge_newest_first(chunks, lower=lower, upper=upper, after=after):
            if len(page) == limit:
                more = True
                break
            page.append(event)
        next_cursor = event_log.encode_cursor(page[-1]["time"], tenant, page[-1]["id"]) if more else None
        return [stored_events.render(e, tenant) for e in page], next_cursor


def _sk_of(entry: tuple[str, dict[str, Any]]) -> str:
    return entry[0]
