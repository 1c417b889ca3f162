"""DynamoDB side of ``POST /v1/consume``: one read, one transaction (low-level client).

Items (keys from ``tollgate.domain.storage_keys``, shared with the consumer):

- the dedupe marker of the event id, on the events table: ``pk = E#<tenant>#<id>``,
  ``sk = E``, ``msg = "consume"`` (never an SQS message id, so the consumer's claim, whose
  condition is ``attribute_not_exists(pk) OR msg = :me``, fails and the event is not counted
  twice), ``d`` = the decision as JSON (a retry answers it again), ``expires_at``; a marker
  that counted (``commit``, never a denial) is also a *consume record*: ``cd`` =
  ``storage_keys.consume_day_key`` of the day total it added to and ``a`` = the amount, indexed
  by ``by_consume_day`` so the daily reconciliation can recount what consume added to a day
  (``tollgate.adapters.day_sources``; docs/alerts.md, "Reconciliation");
- the counters: one ``ADD v :n`` per window the consumer maintains (totals only).

``commit`` is one TransactWriteItems: the marker Put (``attribute_not_exists(pk)``) first,
then the counter Updates in the caller's order: each hard limit's with
``attribute_not_exists(v) OR v <= :ceiling``, or - when the caller knows the counter's value -
``v = :expected`` (the write then also proves the value, so the answer's ``used`` is exact
without a read). The low-level client keeps our item order, so ``CancellationReasons[i]`` is
item ``i``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey
from tollgate.domain.decisions import DecisionDoc
from tollgate.services.ports import (
    CONSUME_MSG,
    CommitResult,
    Committed,
    Contended,
    CounterConflict,
    CounterValue,
    CounterWrite,
    Duplicate,
    Marker,
)

from .ledger import RETRYABLE_REASONS, num, s


def marker_key(tenant: str, event_id: str) -> dict[str, dict[str, str]]:
    return {"pk": s(keys.event_marker_pk(tenant, event_id)), "sk": s(keys.EVENT_SK)}


def _marker(item: dict[str, Any]) -> Marker:
    raw = item.get("d", {}).get("S")
    return Marker(item.get("msg", {}).get("S"), json.loads(raw) if raw else None)


def _counter_value(item: dict[str, Any] | None) -> CounterValue:
    if not item:
        return CounterValue(None)
    v = item.get("v", {}).get("N")
    return CounterValue(Decimal(v) if v is not None else None)


_CONTENDED_CODES = frozenset(
    {
        "TransactionConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
    }
)
"""Errors of the whole transaction call worth retrying (the SDK has retried them already)."""


def _cancelled(exc: ClientError, writes: Sequence[CounterWrite]) -> CommitResult:
    """What a cancelled commit means: item 0 is the marker, item ``i`` is ``writes[i - 1]``.
    Raises ``exc`` when it is none of the known outcomes."""
    reasons = exc.response.get("CancellationReasons") or []
    codes = [r.get("Code", "None") or "None" for r in reasons]
    if codes and codes[0] == "ConditionalCheckFailed":
        item = reasons[0].get("Item")
        return Duplicate(_marker(item) if item else None)
    failed = {
        writes[i - 1].key: _counter_value(reasons[i].get("Item"))
        for i, code in enumerate(codes)
        if i > 0 and code == "ConditionalCheckFailed"
    }
    if failed:
        return CounterConflict(failed)
    if codes and {c for c in codes if c != "None"} <= RETRYABLE_REASONS:
        return Contended(codes)
    raise exc


class QuotaStore:
    def __init__(self, client: Any, *, events_table: str, counters_table: str):
        self.client = client
        self.events_table = events_table
        self.counters_table = counters_table

    # -------------------------------------------------------------- read
    def read(
        self, marker: tuple[str, str] | None, counters: Sequence[CounterKey]
    ) -> tuple[Marker | None, dict[CounterKey, CounterValue]]:
        """One BatchGetItem (eventually consistent; the transaction's conditions are the
        arbiter): the marker of ``(tenant, event id)`` and the counters."""
        request: dict[str, Any] = {}
        if marker is not None:
            request[self.events_table] = {"Keys": [marker_key(*marker)], "ProjectionExpression": "msg, d"}
        unique = list(dict.fromkeys(counters))
        if unique:
            request[self.counters_table] = {
                "Keys": [{"pk": s(k.pk), "sk": s(k.sk)} for k in unique],
                "ProjectionExpression": "pk, sk, v, u",
            }
        found_marker: Marker | None = None
        values: dict[CounterKey, CounterValue] = {k: CounterValue(None) for k in unique}
        if not request:
            return None, values
        for _ in range(10):
            resp = self.client.batch_get_item(RequestItems=request)
            responses = resp.get("Responses", {})
            for item in responses.get(self.events_table, []):
                found_marker = _marker(item)
            for item in responses.get(self.counters_table, []):
                values[CounterKey(item["pk"]["S"], item["sk"]["S"])] = _counter_value(item)
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                return found_marker, values
        raise RuntimeError("counters left unprocessed after 10 attempts")

    def get_marker(self, tenant: str, event_id: str) -> Marker | None:
        item = self.client.get_item(
            TableName=self.events_table, Key=marker_key(tenant, event_id), ConsistentRead=True
        ).get("Item")
        return _marker(item) if item else None

    # -------------------------------------------------------------- write
    def _marker_item(self, tenant: str, event_id: str, decision: DecisionDoc, expires_at: int) -> dict[str, Any]:
        return {
            **marker_key(tenant, event_id),
            "msg": s(CONSUME_MSG),
            "d": s(json.dumps(decision, separators=(",", ":"))),
            "expires_at": num(expires_at),
        }

    def commit(
        self,
        tenant: str,
        event_id: str,
        decision: DecisionDoc,
        expires_at: int,
        writes: Sequence[CounterWrite],
    ) -> CommitResult:
        marker = self._marker_item(tenant, event_id, decision, expires_at)
        for w in writes:  # the day total's write makes the marker a consume record
            record = keys.consume_record_key(tenant, w.key)
            if record is not None:
                marker.update(cd=s(record), a=num(w.amount))
                break
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.events_table,
                    "Item": marker,
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        items += [{"Update": self._counter_update(w)} for w in writes]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "TransactionCanceledException":
                return _cancelled(exc, writes)
            if code in _CONTENDED_CODES:
                return Contended([code])
            raise
        return Committed()

    def _counter_update(self, w: CounterWrite) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.counters_table,
            "Key": {"pk": s(w.key.pk), "sk": s(w.key.sk)},
            "UpdateExpression": "ADD v :n",
            "ExpressionAttributeValues": {":n": num(w.amount)},
        }
        if w.expires_at is not None:
            update["UpdateExpression"] += " SET expires_at = :e"
            update["ExpressionAttributeValues"][":e"] = num(w.expires_at)
        if w.expected is not None:
            update["ConditionExpression"] = "attribute_not_exists(v) OR v = :x" if w.expected == 0 else "v = :x"
            update["ExpressionAttributeValues"][":x"] = num(w.expected)
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        elif w.ceiling is not None:
            update["ConditionExpression"] = "attribute_not_exists(v) OR v <= :c"
            update["ExpressionAttributeValues"][":c"] = num(w.ceiling)
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return update

    def put_marker(self, tenant: str, event_id: str, decision: DecisionDoc, expires_at: int) -> Marker | None:
        """Record a decision taken without a transaction (a denial). Returns the marker that
        was there first, if any (its decision stands), else None."""
        try:
            self.client.put_item(
                TableName=self.events_table,
                Item=self._marker_item(tenant, event_id, decision, expires_at),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item = exc.response.get("Item")
            return _marker(item) if item else (self.get_marker(tenant, event_id) or Marker(None, None))
        return None
