"""``services.ports.RollupStore`` on the roll-ups table (low-level client; docs/analytics.md).

Items (``pk`` / ``sk``, value ``v`` a Number):

- ``D#<meter>#<day>`` / ``<tenant>``: the tenant's value of the operator day, and ``plan``;
- ``T#<meter>#<tenant>`` / ``<day>``: the same value, in the tenant's partition;
- ``S#<meter>`` / ``<day>``: the day's total over all tenants;
- ``P#<meter>`` / ``<day>#<plan>``: the day's total per plan;
- ``M#<meter>#<month>`` / ``<tenant>``: the tenant's operator month, ``plan``, and ``rank``
  (= ``v``), the sort key of the sparse, keys-only index ``by_rank`` (hash ``pk``);
- ``F#<meter>#<tenant>`` / ``F``: ``days``, the tenant's day counters as last rolled up.

Every write is a plain put of an absolute value (BatchWriteItem, 25 at a time), so writing
twice changes nothing. The job's store reads strongly consistently (it reads what it just
wrote); the API's (``consistent=False``) eventually consistently, at half the read units. The
index is eventually consistent either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from tollgate.domain import rollups as r
from tollgate.services.ports import StoreBusy

from . import cursors
from .ledger import backoff, num, query_pages, s

INDEX_BY_RANK = "by_rank"
BATCH = 25
ATTEMPTS = 8
SEEN_SK = "F"
NOT_A_CURSOR = "not a cursor issued by this API for this list; start again without one"


def _value(item: dict[str, Any]) -> Decimal:
    return Decimal(item["v"]["N"])


def _plan(item: dict[str, Any]) -> str | None:
    return item["plan"]["S"] if "plan" in item else None


class DynamoRollupStore:
    def __init__(
        self, client: Any, table: str, *, consistent: bool = True, sleep: Callable[[int], None] = backoff
    ) -> None:
        self.client, self.table, self._backoff, self.consistent = client, table, sleep, consistent

    # ---------------------------------------------------------------- plumbing
    def _put_all(self, items: list[dict[str, Any]]) -> None:
        for i in range(0, len(items), BATCH):
            requests = [{"PutRequest": {"Item": item}} for item in items[i : i + BATCH]]
            for attempt in range(ATTEMPTS):
                response = self.client.batch_write_item(RequestItems={self.table: requests})
                requests = (response.get("UnprocessedItems") or {}).get(self.table) or []
                if not requests:
                    break
                self._backoff(attempt)
            else:
                raise StoreBusy(f"{len(requests)} roll-up items left unprocessed after {ATTEMPTS} attempts")

    def _query(self, pk: str, low: str | None = None, high: str | None = None) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": s(pk)},
            "ConsistentRead": self.consistent,
        }
        if low is not None and high is not None:
            request["KeyConditionExpression"] += " AND sk BETWEEN :lo AND :hi"
            request["ExpressionAttributeValues"].update({":lo": s(low), ":hi": s(high)})
        for response in query_pages(self.client, request):
            yield from response.get("Items", [])

    @staticmethod
    def _item(pk: str, sk: str, value: Decimal, plan: str | None = None) -> dict[str, Any]:
        item = {"pk": s(pk), "sk": s(sk), "v": num(value)}
        if plan is not None:
            item["plan"] = s(plan)
        return item

    # ---------------------------------------------------------------- what the job saw
    def seen(self, meter: str, tenant: str) -> dict[str, Decimal]:
        response = self.client.get_item(
            TableName=self.table,
            Key={"pk": s(r.seen_pk(meter, tenant)), "sk": s(SEEN_SK)},
            ConsistentRead=self.consistent,
        )
        days = response.get("Item", {}).get("days", {}).get("M", {})
        return {k: Decimal(v["N"]) for k, v in days.items()}

    def put_seen(self, meter: str, tenant: str, values: dict[str, Decimal]) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": s(r.seen_pk(meter, tenant)),
                "sk": s(SEEN_SK),
                "days": {"M": {k: num(v) for k, v in values.items()}},
            },
        )

    # ---------------------------------------------------------------- tenant days
    def put_tenant_days(self, meter: str, tenant: str, plan: str | None, values: dict[date, Decimal]) -> None:
        items = []
        for d, v in sorted(values.items()):
            items.append(self._item(r.day_pk(meter, r.day_key(d)), tenant, v, plan))
            items.append(self._item(r.tenant_pk(meter, tenant), r.day_key(d), v))
        self._put_all(items)

    def tenant_days(self, meter: str, tenant: str, first: date, last: date) -> dict[date, Decimal]:
        items = self._query(r.tenant_pk(meter, tenant), r.day_key(first), r.day_key(last))
        return {date.fromisoformat(i["sk"]["S"]): _value(i) for i in items}

    def day_tenants(self, meter: str, day: date) -> dict[str, tuple[Decimal, str | None]]:
        return {i["sk"]["S"]: (_value(i), _plan(i)) for i in self._query(r.day_pk(meter, r.day_key(day)))}

    # ---------------------------------------------------------------- series
    def put_day_series(self, meter: str, day: date, total: Decimal, plans: dict[str, Decimal]) -> None:
        key = r.day_key(day)
        items = [self._item(r.series_pk(meter), key, total)]
        items += [self._item(r.plan_series_pk(meter), f"{key}#{p}", v) for p, v in sorted(plans.items())]
        self._put_all(items)

    def day_series(self, meter: str, first: date, last: date) -> dict[date, Decimal]:
        items = self._query(r.series_pk(meter), r.day_key(first), r.day_key(last))
        return {date.fromisoformat(i["sk"]["S"]): _value(i) for i in items}

    def plan_series(self, meter: str, first: date, last: date) -> dict[tuple[date, str], Decimal]:
        out: dict[tuple[date, str], Decimal] = {}
        for i in self._query(r.plan_series_pk(meter), r.day_key(first) + "#", r.day_key(last) + "#\uffff"):
            day, _, plan = i["sk"]["S"].partition("#")
            out[(date.fromisoformat(day), plan)] = _value(i)
        return out

    # ---------------------------------------------------------------- months
    def put_month(self, meter: str, month: date, tenant: str, plan: str | None, value: Decimal) -> None:
        item = self._item(r.month_pk(meter, r.month_key(month)), tenant, value, plan)
        item["rank"] = num(value)
        self._put_all([item])

    def month_tenants(self, meter: str, month: date) -> dict[str, tuple[Decimal, str | None]]:
        return {i["sk"]["S"]: (_value(i), _plan(i)) for i in self._query(r.month_pk(meter, r.month_key(month)))}

    def top_month(
        self, meter: str, month: date, limit: int, cursor: str | None
    ) -> tuple[list[tuple[str, Decimal]], str | None]:
        pk = r.month_pk(meter, r.month_key(month))
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX_BY_RANK,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": s(pk)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            tenant, value = _after(cursor, pk)
            request["ExclusiveStartKey"] = {"pk": s(pk), "sk": s(tenant), "rank": num(value)}
        response = self.client.query(**request)
        rows = [(i["sk"]["S"], Decimal(i["rank"]["N"])) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if not last:
            return rows, None
        return rows, cursors.encode({"k": pk, "t": last["sk"]["S"], "v": last["rank"]["N"]})


def _after(cursor: str, pk: str) -> tuple[str, Decimal]:
    """The (tenant, value) a cursor of this month's ranking resumes after; ValueError otherwise."""
    try:
        value = cursors.decode(cursor)
        if not isinstance(value, dict) or set(value) != {"k", "t", "v"} or value["k"] != pk:
            raise ValueError
        tenant, amount = value["t"], Decimal(value["v"])
        if not isinstance(tenant, str) or not 0 < len(tenant) <= 256 or not amount.is_finite():
            raise ValueError
        return tenant, amount
    except (ValueError, TypeError, ArithmeticError):
        raise ValueError(NOT_A_CURSOR) from None
