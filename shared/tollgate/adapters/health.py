"""Tenant health on the tenant-health table (``services.ports.HealthStore``).

One item per evaluated tenant, keyed by ``tenant_id``: ``health_status`` (healthy, caution,
warning, critical), ``has_overages`` (BOOL) and ``updated_at`` (UTC, fixed width, so it
compares as text). Healthy tenants are stored too (a refresh overwrites, never deletes): the
item says when it was last computed. A tenant never evaluated has no item.

Index ``by_status`` (``health_status``, ``tenant_id``): the tenants at one level, by id, for
``GET /v1/tenants?health_status=``. A put is conditional on ``updated_at``: of two refreshes
racing (the stream and the sweep), the one computed last stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from tollgate.domain.health import TenantHealth
from tollgate.domain.quota import Status

from . import cursors
from .ledger import s

INDEX_BY_STATUS = "by_status"
MAX_KEYS_PER_READ = 100
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
NOT_A_CURSOR = "not a cursor issued by this API for this list; start again without one"


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_TIME)


def _health(item: dict[str, Any]) -> TenantHealth:
    return TenantHealth(
        tenant_id=item["tenant_id"]["S"],
        status=Status(item["health_status"]["S"]),
        has_overages=bool(item["has_overages"]["BOOL"]),
        updated_at=datetime.strptime(item["updated_at"]["S"], _TIME).replace(tzinfo=UTC),
    )


class DynamoHealthStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def put(self, health: TenantHealth) -> None:
        if health.updated_at is None:
            raise ValueError("only a computed health is stored")
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "tenant_id": s(health.tenant_id),
                    "health_status": s(health.status.value),
                    "has_overages": {"BOOL": health.has_overages},
                    "updated_at": s(_time(health.updated_at)),
                },
                ConditionExpression="attribute_not_exists(tenant_id) OR updated_at <= :at",
                ExpressionAttributeValues={":at": s(_time(health.updated_at))},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # a health computed later is stored: it stays

    def get_many(self, tenant_ids: Sequence[str]) -> dict[str, TenantHealth]:
        found: dict[str, TenantHealth] = {}
        ids = list(dict.fromkeys(tenant_ids))
        for i in range(0, len(ids), MAX_KEYS_PER_READ):
            request: dict[str, Any] = {
                self.table: {"Keys": [{"tenant_id": s(t)} for t in ids[i : i + MAX_KEYS_PER_READ]]}
            }
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self.table, []):
                    found[item["tenant_id"]["S"]] = _health(item)
                request = resp.get("UnprocessedKeys") or {}
        return found

    def query(self, status: Status, limit: int, cursor: str | None) -> tuple[list[TenantHealth], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX_BY_STATUS,
            "KeyConditionExpression": "health_status = :s",
            "ExpressionAttributeValues": {":s": s(status.value)},
            "Limit": limit,
        }
        if cursor is not None:
            after = _after(cursor, status)
            kwargs["ExclusiveStartKey"] = {"tenant_id": s(after), "health_status": s(status.value)}
        resp = self.client.query(**kwargs)
        items = [_health(item) for item in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return items, cursors.encode({"s": status.value, "t": last["tenant_id"]["S"]}) if last else None


def _after(cursor: str, status: Status) -> str:
    """The tenant id a cursor of this status's list resumes after; ValueError for any other."""
    try:
        value = cursors.decode(cursor)
    except ValueError:
        raise ValueError(NOT_A_CURSOR) from None
    if not isinstance(value, dict) or set(value) != {"s", "t"} or value["s"] != status.value:
        raise ValueError(NOT_A_CURSOR)
    tenant = value["t"]
    if not isinstance(tenant, str) or not 0 < len(tenant) <= 256:
        raise ValueError(NOT_A_CURSOR)
    try:
        tenant.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(NOT_A_CURSOR) from None
    return tenant
