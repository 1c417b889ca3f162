"""The consume path's store in memory: ``ports.CounterStore`` with the semantics of
tollgate.adapters.quota_store.QuotaStore (docs/quotas.md).

The items mirror the two tables the adapter writes, and ``FakeEventLedger`` can share them
(``tests.fakes.world.Stores`` does), as the consumer and consume share the real tables:

- ``markers[(tenant, event id)]``: the event's dedupe marker, ``msg`` (who claimed it:
  ``"consume"`` or an SQS message id) and ``d`` (consume's decision, as stored JSON); a marker
  a commit wrote is also a consume record: ``consume_day`` (the adapter's ``cd``, the day total
  it added to) and ``amount`` (``a``);
- ``counters[CounterKey]``: ``v`` (None until a value is written; a unique_count item's
  count) and ``t`` (latest's tag).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tollgate.domain import storage_keys
from tollgate.domain.counting import DECIMAL, CounterKey
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


@dataclass
class MarkerItem:
    """An event's marker item (``pk = E#<tenant>#<id>``, ``sk = E``)."""

    msg: str
    d: str | None = None  # the decision as JSON, like the adapter's ``d``
    expires_at: int | None = None
    consume_day: str | None = None  # ``cd``: a consume record of this day total
    amount: Decimal | None = None  # ``a``

    def marker(self) -> Marker:
        return Marker(self.msg, json.loads(self.d) if self.d else None)


@dataclass
class CounterItem:
    """A counter item: ``v``, ``t`` and ``expires_at`` as the writers leave them."""

    v: Decimal | None = None
    t: str | None = None
    expires_at: int | None = None

    def value(self) -> CounterValue:
        return CounterValue(self.v)


Markers = dict[tuple[str, str], MarkerItem]
Counters = dict[CounterKey, CounterItem]


def found(counters: Counters, key: CounterKey) -> CounterValue:
    item = counters.get(key)
    return item.value() if item is not None else CounterValue(None)


def add(counters: Counters, key: CounterKey, amount: Decimal, expires_at: int | None) -> None:
    """``ADD v :n`` (and ``SET expires_at = :e``)."""
    item = counters.setdefault(key, CounterItem())
    item.v = amount if item.v is None else DECIMAL.add(item.v, amount)
    if expires_at is not None:
        item.expires_at = expires_at


def _holds(write: CounterWrite, value: Decimal | None) -> bool:
    """The write's condition, as the adapter builds it: ``expected`` when given (0 also
    admits no value), else ``ceiling`` (no value admits)."""
    if write.expected is not None:
        return value == write.expected or (write.expected == 0 and value is None)
    if write.ceiling is not None:
        return value is None or value <= write.ceiling
    return True


class FakeCounterStore:
    """``ports.CounterStore``.

    - ``commit`` is atomic like the adapter's TransactWriteItems: the marker must not exist
      (else ``Duplicate`` with the marker found), then every counter write's condition must
      hold (else ``CounterConflict`` with each failing counter as found); otherwise the marker
      is put and every write ADDed. Nothing is written unless everything is.
    - ``contend(n, codes)``: the next ``n`` commits answer ``Contended(codes)`` and write
      nothing (a TransactionConflict the SDK gave up on).
    - ``omit_duplicate_item``: a ``Duplicate`` carries no marker (an endpoint that does not
      return the old item), so the service must ask ``get_marker``.
    - ``calls`` counts each method's calls; ``commits`` keeps each commit's writes.
    """

    def __init__(self, markers: Markers | None = None, counters: Counters | None = None) -> None:
        self.markers: Markers = markers if markers is not None else {}
        self.counters: Counters = counters if counters is not None else {}
        self.calls: Counter[str] = Counter()
        self.commits: list[list[CounterWrite]] = []
        self.omit_duplicate_item = False
        self._contended: list[list[str]] = []
        self._lock = threading.Lock()

    # -------------------------------------------------------------- test controls
    def contend(self, times: int = 1, codes: Sequence[str] = ("TransactionConflict",)) -> None:
        self._contended += [list(codes)] * times

    def value(self, key: CounterKey) -> Decimal | None:
        """The stored ``v`` of a counter (None: no value)."""
        item = self.counters.get(key)
        return item.v if item is not None else None

    def set_value(self, key: CounterKey, value: Decimal | int | str) -> None:
        """Another writer's work: the counter now holds ``value``."""
        self.counters.setdefault(key, CounterItem()).v = Decimal(value)

    def decision(self, tenant: str, event_id: str) -> DecisionDoc | None:
        item = self.markers.get((tenant, event_id))
        return item.marker().decision if item is not None else None

    # -------------------------------------------------------------- the port
    def read(
        self, marker: tuple[str, str | None] | None, counters: Sequence[CounterKey]
    ) -> tuple[Marker | None, dict[CounterKey, CounterValue]]:
        with self._lock:
            self.calls["read"] += 1
            found_marker = None
            if marker is not None and marker[1] is not None:
                item = self.markers.get((marker[0], marker[1]))
                found_marker = item.marker() if item is not None else None
            return found_marker, {k: found(self.counters, k) for k in dict.fromkeys(counters)}

    def get_marker(self, tenant: str, event_id: str) -> Marker | None:
        with self._lock:
            self.calls["get_marker"] += 1
            item = self.markers.get((tenant, event_id))
            return item.marker() if item is not None else None

    def commit(
        self, tenant: str, event_id: str, decision: DecisionDoc, expires_at: int, writes: Sequence[CounterWrite]
    ) -> CommitResult:
        with self._lock:
            self.calls["commit"] += 1
            keys = [w.key for w in writes]
            if len(set(keys)) != len(keys):  # DynamoDB refuses two operations on one item
                raise ValueError("a transaction cannot write one counter twice")
            if self._contended:
                return Contended(self._contended.pop(0))
            existing = self.markers.get((tenant, event_id))
            if existing is not None:
                return Duplicate(None if self.omit_duplicate_item else existing.marker())
            failed = {
                w.key: found(self.counters, w.key) for w in writes if not _holds(w, found(self.counters, w.key).value)
            }
            if failed:
                return CounterConflict(failed)
            marker = self.markers[(tenant, event_id)] = _consume_marker(decision, expires_at)
            for w in writes:
                add(self.counters, w.key, w.amount, w.expires_at)
                if marker.consume_day is None and (record := storage_keys.consume_record_key(tenant, w.key)):
                    marker.consume_day, marker.amount = record, w.amount
            self.commits.append(list(writes))
            return Committed()

    def put_marker(self, tenant: str, event_id: str, decision: DecisionDoc, expires_at: int) -> Marker | None:
        with self._lock:
            self.calls["put_marker"] += 1
            existing = self.markers.get((tenant, event_id))
            if existing is not None:
                return existing.marker()
            self.markers[(tenant, event_id)] = _consume_marker(decision, expires_at)
            return None


def _consume_marker(decision: DecisionDoc, expires_at: int) -> MarkerItem:
    return MarkerItem(CONSUME_MSG, json.dumps(decision, separators=(",", ":")), expires_at)
