"""``services.ports.DaySources`` on the counters and events tables (low-level client): what the
daily reconciliation reads of one tenant's local day (docs/alerts.md, "Reconciliation").

- ``counted``: the day totals, one strongly consistent BatchGetItem (100 keys a request);
- ``consumed``: the consume records of one day total, a Query of the events table's sparse
  index ``by_consume_day`` (eventually consistent, as every index read is);
- ``logged``: the raw-event log of the UTC days the local day overlaps, every shard of each,
  read in full pages (the listing's lazy merge is for pages of events; this reads the day).
  Chunks whose newest event is before the day are skipped by the key condition, and those whose
  oldest is after it by a filter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import DECIMAL
from tollgate.domain.periods import Window
from tollgate.domain.reconcile import utc_days
from tollgate.domain.times import format_time

from . import event_log
from .ledger import backoff, query_pages, s

CONSUME_INDEX = "by_consume_day"
BATCH_KEYS = 100  # BatchGetItem's limit
ATTEMPTS = 8


class DynamoDaySources:
    def __init__(self, client: Any, *, events_table: str, counters_table: str, shards: int = keys.LOG_SHARDS) -> None:
        self.client = client
        self.events_table, self.counters_table, self.shards = events_table, counters_table, shards

    def counted(self, tenant: str, meters: Sequence[str], day_key: str) -> dict[str, Decimal]:
        by_pk = {keys.total_pk(tenant, m, Window.DAY): m for m in dict.fromkeys(meters)}
        values = {m: Decimal(0) for m in by_pk.values()}
        pks = list(by_pk)
        for i in range(0, len(pks), BATCH_KEYS):
            request: dict[str, Any] = {
                self.counters_table: {
                    "Keys": [{"pk": s(pk), "sk": s(keys.total_sk(day_key))} for pk in pks[i : i + BATCH_KEYS]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, v",
                }
            }
            for attempt in range(ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.counters_table, []):
                    if "v" in item:
                        values[by_pk[item["pk"]["S"]]] = Decimal(item["v"]["N"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                backoff(attempt)
            else:
                raise RuntimeError("day totals left unprocessed after retries")
        return values

    def consumed(self, tenant: str, meter: str, day_key: str) -> Decimal:
        total = Decimal(0)
        request: dict[str, Any] = {
            "TableName": self.events_table,
            "IndexName": CONSUME_INDEX,
            "KeyConditionExpression": "cd = :k",
            "ExpressionAttributeValues": {":k": s(keys.consume_day_key(tenant, meter, day_key))},
            "ProjectionExpression": "a",
        }
        for response in query_pages(self.client, request):
            for item in response.get("Items", []):
                total = DECIMAL.add(total, Decimal(item["a"]["N"]))
        return total

    def logged(self, tenant: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        lower, upper = format_time(start), format_time(end)
        for day in utc_days(start, end):
            for shard in range(self.shards):
                for item in self._chunks(keys.log_pk(tenant, day.isoformat(), shard), lower, upper):
                    for event in event_log.decode_chunk(item.get("z", {}).get("B")):
                        if lower <= event["time"] < upper:
                            yield event

    def _chunks(self, pk: str, lower: str, upper: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.events_table,
            "KeyConditionExpression": "pk = :p AND #sk >= :lower",  # sk = <newest event time>#...
            "FilterExpression": "lo < :upper",
            "ExpressionAttributeNames": {"#sk": "sk"},
            "ExpressionAttributeValues": {":p": s(pk), ":lower": s(lower), ":upper": s(upper)},
            "ProjectionExpression": "z",
        }
        for response in query_pages(self.client, request):
            yield from response.get("Items", [])
