"""Alerts and in-app notifications on the notifications table (``services.ports.AlertStore``).

One item per alert, keyed by its deterministic ``id``: the conditional put that creates it is
the alert's claim, so a crossing found twice (a redelivered stream batch, two evaluators, the
sweep after the real-time path) is stored once. Attributes:

- ``doc``: the alert document (JSON text), the same as published to SNS;
- ``tenant_id``, ``ts`` (``<occurred_at UTC>#<id>``: newest first), ``type``;
- ``feed = "all"`` (every alert, for admins listing all tenants);
- ``unread = tenant_id`` while unread, removed when read (the sparse ``unread`` index: the
  unread count is a count of that index, exact under retention's TTL deletes);
- ``lease_until`` (epoch s) while a publisher holds the right to publish, ``published_at``
  once SNS took it;
- ``expires_at``: TTL, the notification retention.

Indexes: ``by_tenant`` (tenant_id, ts), ``by_feed`` (feed, ts), ``unread`` (unread, ts). The
``by_feed`` key takes every alert's write: alerts are edges (a few per tenant per window), far
under one partition's 1,000 writes a second.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from tollgate.domain.alerts import for_operators
from tollgate.services.ports import NotificationPage

from . import cursors
from .ledger import num, query_pages, s

FEED = "all"
OPERATORS = "_operators"
"""The owner of ``system.*`` alerts (the reconciliation's drifts): operators' news, listed to
admin keys in the all-tenants feed and never to the tenant they name."""


def owner_of(doc: dict[str, Any]) -> str:
    return OPERATORS if for_operators(str(doc["type"])) else str(doc["tenant_id"])


_INDEX_BY_TENANT, _INDEX_BY_FEED, _INDEX_UNREAD = "by_tenant", "by_feed", "unread"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _view(item: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(item["doc"]["S"])
    doc["read_at"] = item["read_at"]["S"] if "read_at" in item else None
    return doc


class DynamoAlertStore:
    def __init__(self, client: Any, table: str, *, retention_days: int = 400) -> None:
        self.client, self.table, self.retention_days = client, table, retention_days

    # -------------------------------------------------------------- the exactly-once protocol
    def acquire(self, doc: dict[str, Any], now: datetime, lease_s: int) -> set[str] | None:
        """Store the alert if new, or lease a stored one that was never published and whose
        lease ran out. The destinations already sent to when the caller must publish it now;
        None when it must not (published, or another publisher holds the lease)."""
        occurred = datetime.fromisoformat(doc["occurred_at"]).astimezone(UTC)
        owner = owner_of(doc)
        item = {
            "id": s(doc["id"]),
            "doc": s(json.dumps(doc, separators=(",", ":"))),
            "tenant_id": s(owner),
            "ts": s(f"{occurred.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{doc['id']}"),
            "type": s(doc["type"]),
            "feed": s(FEED),
            "unread": s(owner),
            "lease_until": num(_epoch(now) + lease_s),
            "expires_at": num(_epoch(occurred + timedelta(days=self.retention_days))),
        }
        try:
            self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(id)")
            return set()
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key={"id": s(doc["id"])},
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="attribute_exists(id) AND attribute_not_exists(published_at) AND lease_until < :now",
                ExpressionAttributeValues={":until": num(_epoch(now) + lease_s), ":now": num(_epoch(now))},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return set(resp["Attributes"].get("sent", {}).get("SS", []))

    def mark_sent(self, alert_id: str, destination: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"id": s(alert_id)},
            UpdateExpression="ADD sent :d",
            ExpressionAttributeValues={":d": {"SS": [destination]}},
        )

    def release(self, alert_id: str) -> None:
        """Give the lease back (a publish failed): the next try need not wait for it to run out."""
        self.client.update_item(
            TableName=self.table,
            Key={"id": s(alert_id)},
            UpdateExpression="SET lease_until = :zero",
            ConditionExpression="attribute_exists(id) AND attribute_not_exists(published_at)",
            ExpressionAttributeValues={":zero": num(0)},
        )

    def mark_published(self, alert_id: str, now: datetime) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"id": s(alert_id)},
            UpdateExpression="SET published_at = :at REMOVE lease_until",
            ExpressionAttributeValues={":at": s(now.astimezone(UTC).isoformat())},
        )

    def known(self, alert_ids: Sequence[str]) -> set[str]:
        """The ids already stored (eventually consistent: a miss may still exist, and the
        conditional put settles it)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(alert_ids))
        for i in range(0, len(ids), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": [{"id": s(a)} for a in ids[i : i + 100]], "ProjectionExpression": "id"}
            }
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                found.update(item["id"]["S"] for item in resp.get("Responses", {}).get(self.table, []))
                request = resp.get("UnprocessedKeys") or {}
        return found

    def unpublished(self, since: datetime, now: datetime) -> list[dict[str, Any]]:
        """Alerts stored since ``since`` that were never published and whose lease ran out."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": _INDEX_BY_FEED,
            "KeyConditionExpression": "feed = :feed AND ts >= :since",
            "FilterExpression": "attribute_not_exists(published_at) AND lease_until < :now",
            "ExpressionAttributeValues": {
                ":feed": s(FEED),
                ":since": s(since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
                ":now": num(_epoch(now)),
            },
        }
        for resp in query_pages(self.client, kwargs):
            out += [json.loads(item["doc"]["S"]) for item in resp.get("Items", [])]
        return out

    # -------------------------------------------------------------- notifications
    def list(
        self, tenant: str | None, *, unread: bool | None, type_: str | None, limit: int, cursor: str | None
    ) -> NotificationPage:
        """Newest first. ValueError for a cursor this list did not issue."""
        index, kwargs = _list_query(self.table, tenant, unread, type_)
        key = kwargs["ExpressionAttributeValues"][":k"]["S"]
        filtered = "FilterExpression" in kwargs
        start = self._start_key(cursor, index, key)
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            kwargs["Limit"] = max(limit - len(items), 25) if filtered else limit - len(items)
            kwargs.pop("ExclusiveStartKey", None)
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(**kwargs)
            got = resp.get("Items", [])
            taken = got[: limit - len(items)]
            items += taken
            if len(taken) < len(got):  # the page ended inside this response: go on after the last taken
                start = {k: taken[-1][k] for k in ("id", "ts", _partition(index))}
                break
            start = resp.get("LastEvaluatedKey")
            if start is None:
                break
        next_cursor = None
        if start is not None:
            next_cursor = cursors.encode({"i": index, "k": key, "id": start["id"]["S"], "ts": start["ts"]["S"]})
        return NotificationPage([_view(item) for item in items], next_cursor)

    @staticmethod
    def _start_key(cursor: str | None, index: str, key: str) -> dict[str, Any] | None:
        if cursor is None:
            return None
        value = cursors.decode(cursor)
        if not isinstance(value, dict) or value.get("i") != index or value.get("k") != key:
            raise ValueError("not a cursor of this list")
        if not isinstance(value.get("id"), str) or not isinstance(value.get("ts"), str):
            raise ValueError("not a cursor of this list")
        return {"id": s(value["id"]), "ts": s(value["ts"]), _partition(index): s(key)}

    def unread_count(self, tenant: str | None) -> int:
        if tenant is None:
            kwargs: dict[str, Any] = {
                "IndexName": _INDEX_BY_FEED,
                "KeyConditionExpression": "feed = :k",
                "FilterExpression": "attribute_not_exists(read_at)",
                "ExpressionAttributeValues": {":k": s(FEED)},
            }
        else:
            kwargs = {
                "IndexName": _INDEX_UNREAD,
                "KeyConditionExpression": "unread = :k",
                "ExpressionAttributeValues": {":k": s(tenant)},
            }
        request = {"TableName": self.table, "Select": "COUNT", **kwargs}
        return sum(int(resp.get("Count", 0)) for resp in query_pages(self.client, request))

    def mark_read(self, alert_id: str, tenant: str | None, now: datetime) -> dict[str, Any] | None:
        """Mark one read (idempotent: a read one keeps its first ``read_at``). None when there
        is no such notification, or it is another tenant's."""
        condition = "attribute_exists(id) AND attribute_not_exists(read_at)"
        values: dict[str, Any] = {":at": s(now.astimezone(UTC).isoformat())}
        if tenant is not None:
            condition += " AND tenant_id = :t"
            values[":t"] = s(tenant)
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key={"id": s(alert_id)},
                UpdateExpression="SET read_at = :at REMOVE unread",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
            return _view(resp["Attributes"])
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        item = self.client.get_item(TableName=self.table, Key={"id": s(alert_id)}, ConsistentRead=True).get("Item")
        if item is None or (tenant is not None and item["tenant_id"]["S"] != tenant):
            return None
        return _view(item)


def _partition(index: str) -> str:
    return {_INDEX_BY_TENANT: "tenant_id", _INDEX_BY_FEED: "feed", _INDEX_UNREAD: "unread"}[index]


def _list_query(table: str, tenant: str | None, unread: bool | None, type_: str | None) -> tuple[str, dict[str, Any]]:
    """The index and the query of one notifications list."""
    if tenant is None:
        index, key = _INDEX_BY_FEED, "feed = :k"
    elif unread:
        index, key = _INDEX_UNREAD, "unread = :k"
    else:
        index, key = _INDEX_BY_TENANT, "tenant_id = :k"
    values: dict[str, Any] = {":k": s(FEED if tenant is None else tenant)}
    filters: list[str] = []
    if unread is True and index != _INDEX_UNREAD:
        filters.append("attribute_not_exists(read_at)")
    elif unread is False:
        filters.append("attribute_exists(read_at)")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": key,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    if type_ is not None:
        filters.append("#type = :type")
        values[":type"] = s(type_)
        kwargs["ExpressionAttributeNames"] = {"#type": "type"}
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    return index, kwargs
