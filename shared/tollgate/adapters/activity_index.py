"""``services.ports.ActivityIndex`` on the alert-state table (low-level client).

One item per (UTC hour, tenant, meter): ``pk = A#<YYYY-MM-DDTHH>``, ``sk = <tenant>#<meter>``,
``expires_at`` = the hour + 3 days. A mark is a plain PutItem of a fixed item, so marking twice
writes the same item again (1 write unit, nothing changes). A job reads an hour with one Query
(paged) of its partition: the cost follows the active pairs, not the tenants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from tollgate.domain import storage_keys as keys
from tollgate.domain.reconcile import hour_floor, hours_between
from tollgate.services.ports import StoreBusy

from .ledger import backoff, num, query_pages, s

ACTIVITY_TTL = timedelta(days=3)
BATCH = 25  # BatchWriteItem's limit
ATTEMPTS = 8  # per batch, for the items DynamoDB leaves unprocessed


class DynamoActivityIndex:
    def __init__(self, client: Any, table: str, *, sleep: Callable[[int], None] = backoff) -> None:
        self.client, self.table, self._backoff = client, table, sleep

    def mark(self, hour: datetime, pairs: Iterable[tuple[str, str]]) -> None:
        start = hour_floor(hour)
        pk, expires = s(keys.activity_pk(start)), num(int((start + ACTIVITY_TTL).timestamp()))
        sks = list(dict.fromkeys(keys.activity_sk(t, m) for t, m in pairs))  # a request may not repeat a key
        for i in range(0, len(sks), BATCH):
            self._write(
                [{"PutRequest": {"Item": {"pk": pk, "sk": s(sk), "expires_at": expires}}} for sk in sks[i : i + BATCH]]
            )

    def _write(self, requests: list[dict[str, Any]]) -> None:
        for attempt in range(ATTEMPTS):
            response = self.client.batch_write_item(RequestItems={self.table: requests})
            requests = (response.get("UnprocessedItems") or {}).get(self.table) or []
            if not requests:
                return
            self._backoff(attempt)
        raise StoreBusy(f"{len(requests)} activity marks left unprocessed after {ATTEMPTS} attempts")

    def active(self, start: datetime, end: datetime) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for hour in hours_between(start, end):
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": s(keys.activity_pk(hour))},
                "ProjectionExpression": "sk",
            }
            for response in query_pages(self.client, request):
                found.update(keys.split_activity_sk(item["sk"]["S"]) for item in response.get("Items", []))
        return found
