"""The raw-event log's storage form: what the consumer writes for ``GET /v1/events`` and how
the listing reads it back. See docs/storage.md, "Raw-event log".

- writing: the claimed events of one message as chunks per UTC day, sorted by (time, id), each
  a zlib-compressed JSON array of events in the usage message form, cut by raw size so that a
  chunk always fits a DynamoDB item. The cut depends on the events only, so every redelivery
  writes the same chunks;
- reading: a chunk back (``decode_chunk``, which never raises), the newest-first merge of
  chunks that pages exactly, and the page cursor.
"""

from __future__ import annotations

import heapq
import json
import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tollgate.domain import storage_keys as keys
from tollgate.domain.stored_events import chunk_events
from tollgate.domain.times import parse_time
from tollgate.domain.usage import UsageEvent
from tollgate.wire.usage_message import event_dict

from . import cursors

log = logging.getLogger(__name__)

MAX_LOG_CHUNK_RAW_BYTES = 300_000
"""Raw JSON per log chunk. zlib never grows data by more than a few bytes per 16 KB, so a
chunk stays under DynamoDB's 400 KB item limit whatever the events hold. The split depends on
the raw text only (not on the compressor), so every redelivery cuts the same chunks."""


# ------------------------------------------------------------------ writing
@dataclass(frozen=True)
class LogChunk:
    pk: str
    sk: str
    newest: str  # time of the newest event (the sk's prefix)
    oldest: str
    events: tuple[dict[str, Any], ...]  # usage_message.event_dict() of each, oldest first

    def body(self) -> bytes:
        return compress_events(self.events)


def _json(events: Any) -> bytes:
    return json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compress_events(events: Iterable[dict[str, Any]]) -> bytes:
    return zlib.compress(_json(list(events)), 6)


def decompress_events(blob: bytes) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(zlib.decompress(blob).decode("utf-8"))
    return events


def log_chunks(
    tenant: str, message_id: str, events: Sequence[UsageEvent], max_raw_bytes: int = MAX_LOG_CHUNK_RAW_BYTES
) -> list[LogChunk]:
    """The claimed events of one message as log chunks: per UTC day, sorted by (time, id),
    cut where the raw JSON would pass ``max_raw_bytes``. Parts are numbered across the message;
    all of them go to the message's log shard (``storage_keys.log_shard``)."""
    ordered = sorted(events, key=lambda e: (e.time, e.id))
    groups: list[list[dict[str, Any]]] = []
    days: list[str] = []
    size = 0
    for e in ordered:
        d = event_dict(e)
        n = len(_json(d)) + 1
        day = e.time[:10]
        if not groups or days[-1] != day or (size + n > max_raw_bytes and groups[-1]):
            groups.append([])
            days.append(day)
            size = 0
        groups[-1].append(d)
        size += n
    shard = keys.log_shard(message_id)  # every chunk of a message, on every delivery
    out = []
    for part, (day, chunk) in enumerate(zip(days, groups, strict=True)):
        newest, oldest = chunk[-1]["time"], chunk[0]["time"]
        pk = keys.log_pk(tenant, day, shard)
        out.append(LogChunk(pk, keys.log_sk(newest, message_id, part), newest, oldest, tuple(chunk)))
    return out


# ------------------------------------------------------------------ reading
def decode_chunk(blob: Any) -> list[dict[str, Any]]:
    """The events of one stored chunk that can be listed; never raises (see
    ``tollgate.domain.stored_events``)."""
    try:
        text = zlib.decompress(blob).decode("utf-8")
    except Exception as exc:  # noqa: BLE001 - not zlib, not UTF-8, not bytes: nothing to show
        log.error("a raw-event log chunk could not be read (%s); its events are left out", type(exc).__name__)
        return []
    return chunk_events(text)


def encode_cursor(time: str, tenant: str, event_id: str) -> str:
    return cursors.encode([time, tenant, event_id])


def decode_cursor(cursor: str, tenant: str) -> tuple[str, str]:
    """``(time, event id)`` of the last event of the previous page. ValueError when invalid."""
    try:
        time, owner, event_id = cursors.decode(cursor)
        if not all(isinstance(x, str) for x in (time, owner, event_id)):
            raise TypeError
        parse_time(time)
    except (ValueError, TypeError):
        raise ValueError("the cursor is not valid") from None
    if owner != tenant:
        raise ValueError("the cursor belongs to another query")
    return time, event_id


class _Newest:
    """Heap entry ordering events newest first: (time, id) descending."""

    __slots__ = ("key", "event")

    def __init__(self, event: dict[str, Any]):
        self.key = (event["time"], event["id"])
        self.event = event

    def __lt__(self, other: _Newest) -> bool:
        return self.key > other.key


def merge_newest_first(
    chunks: Iterable[tuple[str, Iterable[dict[str, Any]]]],
    *,
    lower: str,
    upper: str,
    after: tuple[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Events of ``chunks`` (given as ``(newest time, events)`` in descending newest time)
    newest first, ``lower <= time < upper`` and, with a cursor, strictly older than ``after``.

    A chunk holds nothing newer than its newest time, so an event read so far can be emitted
    once it is newer than the next chunk's newest time: pages are exact, and only as many
    chunks are read as the page needs."""
    heap: list[_Newest] = []
    for newest, events in chunks:
        while heap and heap[0].key[0] > newest:
            yield heapq.heappop(heap).event
        for e in events:
            t = e["time"]
            if t < lower or t >= upper or (after is not None and (t, e["id"]) >= after):
                continue
            heapq.heappush(heap, _Newest(e))
    while heap:
        yield heapq.heappop(heap).event
