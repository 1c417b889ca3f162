"""API rate-limit buckets on DynamoDB: one item per bucket, ``tat`` in microseconds.

Each lease is one conditional UpdateItem (see tollgate.domain.ratelimit for the two
branches). A failed condition returns the item as found (``ReturnValuesOnConditionCheckFailure``),
so the next try knows the bucket's state without a read.
``tests/fakes/ratelimit.FakeBucketStore`` has the same semantics in memory, for unit tests
and the benchmark; tests/integration/test_ratelimit_store.py holds both to them.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tollgate.domain.ratelimit import US, Branch, LeaseWrite

from .ledger import num, s

ITEM_TTL_S = 3600
"""A bucket item expires an hour after its TAT: by then it is full again, like a new one."""


class DynamoBucketStore:
    """``services.ports.BucketStore`` on the rate-limits table."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def write(self, key: str, write: LeaseWrite) -> tuple[bool, int | None]:
        client = self.client
        expires = (write.now_us + write.inc_us) // US + ITEM_TTL_S
        values: dict[str, Any] = {":inc": num(write.inc_us), ":floor": num(write.floor_us), ":exp": num(expires)}
        if write.branch is Branch.RESET:
            expression = "SET tat = :now + :inc, expires_at = :exp"
            condition = "attribute_not_exists(tat) OR tat < :floor"
            values[":now"] = num(write.now_us)
        else:
            expression = "SET tat = tat + :inc, expires_at = :exp"
            condition = "tat BETWEEN :floor AND :max"
            values[":max"] = num(write.max_tat_us)
        try:
            resp = client.update_item(
                TableName=self.table,
                Key={"pk": s(key)},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            found = exc.response.get("Item", {}).get("tat", {}).get("N")
            return False, int(found) if found is not None else None
        return True, int(resp["Attributes"]["tat"]["N"])
