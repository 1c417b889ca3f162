"""DynamoDB side of exactly-once counting: event claims, commits, counters and the raw-event log's
writes (``adapters.event_reader`` reads the log back).

The hot path uses the low-level client (numbers as ``Decimal`` text) for full control of
conditions, transactions and what each call costs. The protocol and the item layout are in
docs/storage.md; keys come from ``tollgate.domain.storage_keys``.

``Ledger`` is ``services.ports.EventLedger``. Its client comes from the composition root
(``dynamodb_client(settings)``, one per execution environment; boto3 clients are thread-safe),
pointed at ``Settings.endpoint_url`` when the local stack runs on moto.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tollgate.config import Settings
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey, CounterUpdates, EventRef
from tollgate.domain.retry import backoff_seconds
from tollgate.domain.unique_values import DayClaim, DayOwners, LifetimeClaim, month_item_expiry
from tollgate.services.ports import CommitCancelled, StoreBusy, StoreRefused

from .commit_plan import MESSAGE_MARKER_TTL, CommitUnit, coalesce_units
from .event_log import LogChunk

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 16
"""Threads for the per-event claims and per-key updates (the Lambda has 30 s and one vCPU share)."""

_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
RETRYABLE_REASONS = frozenset(  # of a cancelled transaction's items: worth trying again
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)


# ------------------------------------------------------------------ client
def dynamodb_client(settings: Settings) -> Any:
    """A low-level DynamoDB client for ``settings``' region and endpoint (boto3 clients are
    thread-safe). The composition root makes one per execution environment and hands it to
    every adapter of that environment."""
    return boto3.session.Session().client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=Config(
            retries={"mode": "standard"},
            max_pool_connections=2 * MAX_WORKERS,
            connect_timeout=3,
            read_timeout=10,
        ),
    )


def backoff(attempt: int) -> None:
    time.sleep(backoff_seconds(attempt))


# ------------------------------------------------------------------ attribute values
def num(value: Decimal | int) -> dict[str, str]:
    """A number attribute in plain decimal text (``1E-8`` -> ``0.00000001``): DynamoDB takes
    both, but emulators do not, and plain text is what the API shows."""
    return {"N": format(Decimal(value), "f")}


def s(value: str) -> dict[str, str]:
    return {"S": value}


def query_pages(client: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page (response) of one Query, following ``LastEvaluatedKey`` (``request`` is
    updated with each start key). A plain loop rather than boto3's paginator, so every page
    is one ``client.query`` call that fault injection and the cost counter see."""
    while True:
        response = client.query(**request)
        yield response
        if not response.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _epoch(at: datetime, days: float) -> int:
    return int((at + timedelta(days=days)).timestamp())


def _changes(updates: CounterUpdates) -> Iterator[tuple[CounterKey, tuple[str, str | None, dict[str, Any]]]]:
    """Each idempotent update as ``(key, (update expression, condition, values))``, in a fixed order."""
    for key, value in updates.max.items():
        yield key, ("SET v = :x", "attribute_not_exists(v) OR v < :x", {":x": num(value)})
    for key, (tag, value) in updates.latest.items():
        yield key, ("SET v = :x, t = :t", "attribute_not_exists(t) OR t < :t", {":x": num(value), ":t": s(tag)})


class Ledger:
    """Reads and writes of the events and counters tables for one invocation."""

    def __init__(
        self,
        client: Any,
        *,
        events_table: str,
        counters_table: str,
        retention_days: int = 400,
        max_workers: int | None = None,
    ) -> None:
        self.client = client
        self.events_table = events_table
        self.counters_table = counters_table
        self.retention_days = retention_days
        self.max_workers = max(1, max_workers if max_workers is not None else MAX_WORKERS)

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` on the thread pool, results in order. ``fn`` returns its own
        errors; anything it raises (BaseException included) propagates."""
        if self.max_workers == 1 or len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(items))) as pool:
            return list(pool.map(fn, items))

    # -------------------------------------------------------------- 1. claims
    def owners(self, refs: Sequence[EventRef]) -> dict[EventRef, str]:
        """Owners of events already claimed: ``BatchGetItem``, 100 keys a request, eventually
        consistent (half a read unit per marker). An owner never changes once written, so an
        answer is never wrong, only possibly missing a claim made a moment ago, which the
        conditional claim then finds. Raises when a request fails."""
        by_pk = {keys.event_marker_pk(r.tenant, r.event_id): r for r in refs}
        pks = list(by_pk)
        client = self.client

        def one(chunk: list[str]) -> list[tuple[str, str]]:
            request = {
                self.events_table: {
                    "Keys": [{"pk": s(pk), "sk": s(keys.EVENT_SK)} for pk in chunk],
                    "ProjectionExpression": "pk, msg",
                }
            }
            found: list[tuple[str, str]] = []
            for attempt in range(8):
                resp = client.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self.events_table, []):
                    if "msg" in item:
                        found.append((item["pk"]["S"], item["msg"]["S"]))
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    return found
                backoff(attempt)
            raise RuntimeError("event markers left unprocessed")

        chunks = [pks[i : i + 100] for i in range(0, len(pks), 100)]
        return {by_pk[pk]: owner for found in self._map(one, chunks) for pk, owner in found}

    def claim(
        self, claims: Sequence[tuple[EventRef, str, Sequence[str]]], now: datetime
    ) -> list[str | None | Exception]:
        """One conditional PutItem per event: ``(ref, claiming message, batch messages holding
        it)``. Returns, per claim, the owning message id when it is one of the batch messages
        holding the event, None when another message owns it, or the error."""
        expires = num(_epoch(now, self.retention_days))
        client = self.client

        def one(claim: tuple[EventRef, str, Sequence[str]]) -> str | None | Exception:
            ref, me, holders = claim
            key = {"pk": s(keys.event_marker_pk(ref.tenant, ref.event_id)), "sk": s(keys.EVENT_SK)}
            try:
                client.put_item(
                    TableName=self.events_table,
                    Item={**key, "msg": s(me), "expires_at": expires},
                    ConditionExpression="attribute_not_exists(pk) OR msg = :me",
                    ExpressionAttributeValues={":me": s(me)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return me
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    return exc
                owner = exc.response.get("Item", {}).get("msg", {}).get("S")
                if owner is None and len(holders) > 1:
                    try:  # an endpoint that does not return the old item: ask
                        item = client.get_item(TableName=self.events_table, Key=key, ConsistentRead=True).get(
                            "Item", {}
                        )
                    except ClientError as read_exc:
                        return read_exc
                    owner = item.get("msg", {}).get("S")
                return owner if owner in holders else None
            except Exception as exc:  # noqa: BLE001 - connection errors, timeouts: the claim is retried
                return exc

        return self._map(one, claims)

    # -------------------------------------------------------------- 1b. value claims
    def claim_days(self, claims: Sequence[DayClaim], now: datetime) -> list[DayOwners | Exception]:
        """One UpdateItem per (month item, day): set the day's owner and, if the month has
        none, the month's, unless another message owns the day. Returns, per claim, the tags
        of the day's and the month's owners, or the error (the outcome is then unknown)."""
        client = self.client

        def one(claim: DayClaim) -> DayOwners | Exception:
            scope, me = claim.scope, claim.tag
            try:
                resp = client.update_item(
                    TableName=self.events_table,
                    Key={"pk": s(scope.pk), "sk": s(scope.month_sk)},
                    UpdateExpression="SET #d = :me, m = if_not_exists(m, :me), expires_at = :e",
                    ConditionExpression="attribute_not_exists(#d) OR #d = :me",
                    ExpressionAttributeNames={"#d": scope.day},
                    ExpressionAttributeValues={
                        ":me": s(me),
                        ":e": num(month_item_expiry(scope.month_end, self.retention_days)),
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                item = resp.get("Attributes", {})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    return exc
                item = exc.response.get("Item") or {}
                if not item:  # an endpoint that does not return the old item: ask
                    try:
                        item = client.get_item(
                            TableName=self.events_table,
                            Key={"pk": s(scope.pk), "sk": s(scope.month_sk)},
                            ConsistentRead=True,
                        ).get("Item", {})
                    except ClientError as read_exc:
                        return read_exc
            except Exception as exc:  # noqa: BLE001 - connection errors, timeouts: unknown outcome
                return exc
            day = item.get(scope.day, {}).get("S")
            if day is None:
                return RuntimeError(f"value claim {scope.pk} {scope.month_sk} {scope.day} came back without its day")
            return DayOwners(day, item.get("m", {}).get("S"))

        return self._map(one, claims)

    def claim_lifetimes(self, claims: Sequence[LifetimeClaim], now: datetime) -> list[str | Exception]:
        """One conditional PutItem per value's lifetime item (``o`` = owner tag, never
        expires). Returns, per claim, the owner's tag, or the error."""
        client = self.client

        def one(claim: LifetimeClaim) -> str | Exception:
            key = {"pk": s(claim.pk), "sk": s(keys.VALUE_LIFETIME_SK)}
            try:
                client.put_item(
                    TableName=self.events_table,
                    Item={**key, "o": s(claim.tag)},
                    ConditionExpression="attribute_not_exists(pk) OR o = :me",
                    ExpressionAttributeValues={":me": s(claim.tag)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return claim.tag
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    return exc
                owner = (exc.response.get("Item") or {}).get("o", {}).get("S")
                if owner is None:
                    try:
                        item = client.get_item(TableName=self.events_table, Key=key, ConsistentRead=True)
                    except ClientError as read_exc:
                        return read_exc
                    owner = item.get("Item", {}).get("o", {}).get("S")
                return owner if owner is not None else RuntimeError(f"lifetime claim {claim.pk} has no owner")
            except Exception as exc:  # noqa: BLE001 - connection errors, timeouts: unknown outcome
                return exc

        return self._map(one, claims)

    # -------------------------------------------------------------- 2. raw-event log
    def write_log(self, chunks: Sequence[LogChunk], now: datetime) -> list[Exception | None]:
        """Put the chunks (BatchWriteItem, 25 per request). Keys and bodies are a function of
        the claimed events, so a rewrite after a retry replaces a chunk with itself."""
        expires = num(_epoch(now, self.retention_days))
        errors: list[Exception | None] = [None] * len(chunks)
        items: dict[int, dict[str, Any]] = {}
        for i, c in enumerate(chunks):
            try:  # a chunk that cannot be encoded fails alone, not its request's other chunks
                items[i] = {
                    "pk": s(c.pk),
                    "sk": s(c.sk),
                    "z": {"B": c.body()},
                    "n": num(len(c.events)),
                    "lo": s(c.oldest),
                    "expires_at": expires,
                }
            except Exception as exc:  # noqa: BLE001
                errors[i] = exc
        good = sorted(items)
        batches = [good[i : i + 25] for i in range(0, len(good), 25)]
        client = self.client

        def one(batch: list[int]) -> Exception | None:
            pending = [{"PutRequest": {"Item": items[i]}} for i in batch]
            for attempt in range(6):
                try:
                    resp = client.batch_write_item(RequestItems={self.events_table: pending})
                except Exception as exc:  # noqa: BLE001 - returned to the caller, which retries alone
                    return exc
                pending = resp.get("UnprocessedItems", {}).get(self.events_table, [])
                if not pending:
                    return None
                backoff(attempt)
            return RuntimeError(f"{len(pending)} log chunks left unprocessed")

        for batch, error in zip(batches, self._map(one, batches), strict=True):
            for i in batch:
                errors[i] = error
        return errors

    # -------------------------------------------------------------- 3. commit
    def committed_markers(self, marker_pks: Sequence[str]) -> set[str]:
        """Which message markers exist (strongly consistent BatchGetItem, 100 keys a request)."""
        found: set[str] = set()
        client = self.client
        for i in range(0, len(marker_pks), 100):
            request = {
                self.events_table: {
                    "Keys": [{"pk": s(pk), "sk": s(keys.MESSAGE_SK)} for pk in marker_pks[i : i + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk",
                }
            }
            for attempt in range(8):
                resp = client.batch_get_item(RequestItems=request)
                found.update(item["pk"]["S"] for item in resp.get("Responses", {}).get(self.events_table, []))
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                backoff(attempt)
            else:
                raise RuntimeError("message markers left unprocessed")
        return found

    def commit(self, units: Sequence[CommitUnit], now: datetime) -> None:
        """One TransactWriteItems: each unit's marker (``attribute_not_exists``) and one ADD
        per distinct counter key. Raises CommitCancelled, StoreBusy, StoreRefused, or the client's
        error (the outcome is then unknown)."""
        marker_expires = num(int((now + MESSAGE_MARKER_TTL).timestamp()))
        items: list[dict[str, Any]] = []
        marker_of: dict[int, str] = {}
        for unit in units:
            marker_of[len(items)] = unit.marker_pk
            items.append(
                {
                    "Put": {
                        "TableName": self.events_table,
                        "Item": {
                            "pk": s(unit.marker_pk),
                            "sk": s(keys.MESSAGE_SK),
                            "n": num(unit.counted),
                            "expires_at": marker_expires,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        for key, (delta, expires) in sorted(coalesce_units(units).items()):
            update: dict[str, Any] = {
                "TableName": self.counters_table,
                "Key": {"pk": s(key.pk), "sk": s(key.sk)},
                "UpdateExpression": "ADD v :d",
                "ExpressionAttributeValues": {":d": num(delta)},
            }
            if expires is not None:
                update["UpdateExpression"] += " SET expires_at = :e"
                update["ExpressionAttributeValues"][":e"] = num(expires)
            items.append({"Update": update})
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _RETRYABLE_CODES:
                raise StoreBusy(code) from exc
            if code == "ValidationException":  # refused as a whole: nothing was written
                raise StoreRefused(exc.response.get("Error", {}).get("Message", code)) from exc
            if code != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            codes = [r.get("Code", "None") for r in reasons]
            committed = {marker_of[i] for i, c in enumerate(codes) if c == "ConditionalCheckFailed" and i in marker_of}
            others = {
                c for i, c in enumerate(codes) if c != "None" and not (i in marker_of and c == "ConditionalCheckFailed")
            }
            retryable = bool(codes) and others <= RETRYABLE_REASONS
            raise CommitCancelled(committed, retryable, codes) from exc

    # -------------------------------------------------------------- 4. idempotent counters
    def apply_idempotent(self, updates: CounterUpdates) -> dict[CounterKey, Exception]:
        """max and latest updates, one UpdateItem per key; each is harmless to repeat.
        Returns the keys that failed."""
        changes = list(_changes(updates))
        jobs = [self._idempotent_request(key, updates.expires.get(key), *change) for key, change in changes]
        client = self.client

        def one(request: dict[str, Any]) -> Exception | None:
            try:
                client.update_item(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    return None  # the stored value is already at least as great / as new
                return exc
            except Exception as exc:  # noqa: BLE001 - returned to the caller, which retries alone
                return exc
            return None

        failed: dict[CounterKey, Exception] = {}
        for (key, _), result in zip(changes, self._map(one, jobs), strict=True):
            if result is not None:
                failed[key] = result
        return failed

    def _idempotent_request(
        self, key: CounterKey, expires: int | None, expression: str, condition: str | None, values: dict[str, Any]
    ) -> dict[str, Any]:
        if expires is not None:
            values = {**values, ":e": num(expires)}
            expression += ", expires_at = :e" if expression.startswith("SET") else " SET expires_at = :e"
        request: dict[str, Any] = {
            "TableName": self.counters_table,
            "Key": {"pk": s(key.pk), "sk": s(key.sk)},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if condition:
            request["ConditionExpression"] = condition
        return request
