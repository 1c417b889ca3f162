"""Count DynamoDB requests and estimated capacity units the way AWS bills them.

Attach a ``DynamoCost`` to a boto3 DynamoDB client (``cost.attach(client)``); every call the
client makes is then counted from its parameters, before it is sent, so a call that fails
(a conditional write whose condition does not hold, a cancelled transaction) is counted too,
as AWS charges it. Works the same against AWS, moto in-process and the moto server.

Sizing rules (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
- a write costs 1 WCU per started KB of the item (the larger of before and after for an
  update); a transaction costs 2 per started KB of each item; a BatchWriteItem is its puts;
- a read costs 1 RCU per started 4 KB (strongly consistent) or half that; a Query sums the
  sizes of the items it returns before rounding. Reads are counted from the responses.

Item sizes follow DynamoDB's rules (names plus values; a number is about one byte per two
digits plus one). An UpdateItem's resulting size is estimated from its key and values, and
the sizes of items grown by ``ADD`` of a set are remembered, so unique_count items that grow
are charged as they grow. Estimates, not the bill: use them for comparing designs.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tollgate.domain import storage_keys

KB = 1024


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        digits = len(str(v).lstrip("-").replace(".", "").split("E")[0].split("e")[0].strip("0")) or 1
        return 1 + math.ceil(digits / 2)
    if kind == "B":
        return len(v if isinstance(v, (bytes, bytearray)) else str(v).encode())
    if kind == "SS":
        return sum(len(x.encode("utf-8")) for x in v)
    if kind == "NS":
        return sum(value_size({"N": x}) for x in v)
    if kind == "BS":
        return sum(len(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    return 1  # BOOL, NULL


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


@dataclass(frozen=True)
class Write:
    table: str
    pk: str
    sk: str
    units: int


class DynamoCost:
    """Requests, write units and read units of every call a client makes. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.write_units = 0
        self.read_units = 0.0
        self.item_writes: Counter[tuple[str, str, str]] = Counter()  # (table, pk, sk) -> writes
        self.partition_units: Counter[tuple[str, str]] = Counter()  # (table, pk) -> write units
        self._sizes: dict[tuple[str, str, str], int] = {}

    # -------------------------------------------------------------- wiring
    def attach(self, client: Any) -> DynamoCost:
        client.meta.events.register("before-parameter-build.dynamodb", self._before_call)
        client.meta.events.register("after-call.dynamodb", self._after_call)
        return self

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-parameter-build.dynamodb", self._before_call)
        client.meta.events.unregister("after-call.dynamodb", self._after_call)

    # -------------------------------------------------------------- report
    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def hottest_item(self) -> tuple[tuple[str, str, str] | None, int]:
        if not self.item_writes:
            return None, 0
        return self.item_writes.most_common(1)[0]

    def hottest_partition(self) -> tuple[tuple[str, str] | None, int]:
        if not self.partition_units:
            return None, 0
        return self.partition_units.most_common(1)[0]

    def summary(self, events: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": dict(self.requests),
            "total_requests": self.total_requests,
            "write_units": self.write_units,
            "read_units": self.read_units,
            "hottest_item": self.hottest_item(),
            "hottest_partition": self.hottest_partition(),
        }
        if events:
            out["write_units_per_event"] = self.write_units / events
            out["requests_per_event"] = self.total_requests / events
        return out

    # -------------------------------------------------------------- hooks
    def _write(self, table: str, key: Mapping[str, Any], size: int, factor: int = 1, set_growth: int = 0) -> None:
        pk = key.get("pk") or key.get("id") or key.get("key") or {"S": ""}
        sk = key.get("sk") or {"S": ""}
        ident = (table, str(next(iter(pk.values()))), str(next(iter(sk.values()))))
        known = self._sizes.get(ident, 0)
        after = max(size, known + set_growth)
        self._sizes[ident] = after
        units = factor * write_units(max(after, known))
        self.write_units += units
        self.item_writes[ident] += 1
        self.partition_units[ident[:2]] += units

    def _update_size(self, params: Mapping[str, Any]) -> tuple[int, int]:
        """(estimated item size, bytes a set ADD appends)."""
        values = params.get("ExpressionAttributeValues") or {}
        size = item_size(params["Key"]) + sum(2 + value_size(v) for v in values.values())
        growth = sum(value_size(v) for v in values.values() if set(v) & {"SS", "NS", "BS"})
        return size, growth

    def _before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        op = model.name
        with self._lock:
            self.requests[op] += 1
            count = self._BEFORE.get(op)
            if count is not None:
                count(self, params)

    def _put(self, params: Mapping[str, Any]) -> None:
        item = params["Item"]
        self._write(params["TableName"], item, item_size(item))

    def _update(self, params: Mapping[str, Any]) -> None:
        size, growth = self._update_size(params)
        self._write(params["TableName"], params["Key"], size, set_growth=growth)

    def _delete(self, params: Mapping[str, Any]) -> None:
        self._write(params["TableName"], params["Key"], 1)

    def _batch_write(self, params: Mapping[str, Any]) -> None:
        for table, requests in params["RequestItems"].items():
            for r in requests:
                if "PutRequest" in r:
                    item = r["PutRequest"]["Item"]
                    self._write(table, item, item_size(item))
                else:
                    self._write(table, r["DeleteRequest"]["Key"], 1)

    def _transaction(self, params: Mapping[str, Any]) -> None:
        for entry in params["TransactItems"]:
            ((kind, p),) = entry.items()
            if kind == "Put":
                self._write(p["TableName"], p["Item"], item_size(p["Item"]), factor=2)
            elif kind == "Update":
                size, growth = self._update_size(p)
                self._write(p["TableName"], p["Key"], size, factor=2, set_growth=growth)
            else:  # Delete, ConditionCheck
                self._write(p["TableName"], p["Key"], 1, factor=2)

    def _get(self, params: Mapping[str, Any]) -> None:
        self.read_units += 1.0 if params.get("ConsistentRead") else 0.5  # a miss still costs the minimum read

    def _batch_get(self, params: Mapping[str, Any]) -> None:
        for request in params["RequestItems"].values():
            self.read_units += len(request["Keys"]) * (1.0 if request.get("ConsistentRead") else 0.5)

    # What each operation costs before it is sent; other operations count as requests only.
    _BEFORE: ClassVar[Mapping[str, Callable[[DynamoCost, Mapping[str, Any]], None]]] = {
        "PutItem": _put,
        "UpdateItem": _update,
        "DeleteItem": _delete,
        "BatchWriteItem": _batch_write,
        "TransactWriteItems": _transaction,
        "GetItem": _get,
        "BatchGetItem": _batch_get,
    }

    def _after_call(self, model: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        """Reads are charged by what they return: items over 4 KB cost more than the minimum
        counted before the call; a Query or Scan costs its returned bytes, eventually consistent."""
        op = model.name
        extra = 0.0
        if op == "GetItem" and parsed.get("Item"):
            extra = max(0, math.ceil(item_size(parsed["Item"]) / (4 * KB)) - 1)
        elif op == "BatchGetItem":
            for items in (parsed.get("Responses") or {}).values():
                extra += sum(max(0, math.ceil(item_size(i) / (4 * KB)) - 1) for i in items)
        elif op in ("Query", "Scan") and "Error" not in parsed:
            total = sum(item_size(i) for i in parsed.get("Items") or [])
            extra = max(1, math.ceil(total / (4 * KB))) * 0.5
        if extra:
            with self._lock:
                self.read_units += extra


# ------------------------------------------------------------------ the hot tenant's log
LOG_ITEM_OVERHEAD_BYTES = 160
"""A log chunk's key and attributes besides its body: ``pk`` (``L#<tenant>#<day>#<shard>``),
``sk`` (time, SQS message id, part), ``n``, ``lo``, ``expires_at`` and the names."""


@dataclass(frozen=True)
class HotLog:
    """Write units per second of one tenant's raw-event log (``docs/storage.md``, "Known limits")."""

    unsharded: float  # on the one key of the tenant-day, as before sharding
    per_shard: float  # on each shard key, on average
    busiest_shard: float  # on the busiest shard key in a second, exceeded once in ``1 / tail`` seconds


def _binomial_tail(n: int, p: float, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def hot_log_write_units(
    events_per_second: float,
    bytes_per_1000_events: float,
    *,
    events_per_message: int = 1000,
    shards: int | None = None,
    tail: float = 1e-3,
) -> HotLog:
    """The raw-event log of one tenant at ``events_per_second``, in messages of
    ``events_per_message`` events whose chunk body is ``bytes_per_1000_events`` per 1,000 events
    (about 31,000 for typical events, 6,000 for bare ones): each message writes one chunk, of
    ``ceil(size / 1 KB)`` write units. ``shards`` defaults to ``storage_keys.LOG_SHARDS``.

    Messages go to shards by a hash of their id, so a shard's messages in a second are
    binomial; ``busiest_shard`` is the load the busiest shard passes in at most ``tail`` of
    the seconds (whole messages: the smallest k with ``shards * P(X >= k) <= tail``)."""
    shards = storage_keys.LOG_SHARDS if shards is None else shards
    chunk_units = write_units(math.ceil(bytes_per_1000_events * events_per_message / 1000) + LOG_ITEM_OVERHEAD_BYTES)
    messages = events_per_second / events_per_message
    whole = math.ceil(messages)
    peak = next(k for k in range(whole + 2) if shards * _binomial_tail(whole, 1 / shards, k) <= tail)
    return HotLog(
        unsharded=messages * chunk_units,
        per_shard=messages * chunk_units / shards,
        busiest_shard=float(min(peak, whole) * chunk_units),
    )
