"""The consumer's side of exactly-once counting in memory: ``ports.EventLedger`` with the
semantics of tollgate.adapters.ledger.Ledger (docs/storage.md).

Event markers and counters can be shared with a ``FakeCounterStore`` (pass its ``markers``
and ``counters``): a consume's marker (``msg = "consume"``) then makes the consumer's claim
of that id fail, as on the real tables.

Failures are injected per request the real adapter makes (``fail``). ``claim``,
``claim_days``, ``claim_lifetimes``, ``write_log`` and ``apply_idempotent`` return a request's
error in its place, as the adapter does (one request per claim, per value claim, per log
chunk, per counter key); ``committed_markers`` and ``commit`` raise it. A failure injected
``after=True`` is applied first, then reported (a lost response).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tollgate.adapters.commit_plan import MAX_TRANSACT_ITEMS, CommitUnit, coalesce_units
from tollgate.adapters.event_log import LogChunk
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey, CounterUpdates, EventRef
from tollgate.domain.unique_values import DayClaim, DayOwners, LifetimeClaim, month_item_expiry
from tollgate.services.ports import CommitCancelled, StoreRefused

from .counter_store import CounterItem, Counters, MarkerItem, Markers, add

METHODS = frozenset(
    {"owners", "claim", "claim_days", "claim_lifetimes", "write_log", "committed_markers", "commit", "apply_idempotent"}
)


@dataclass
class _Failure:
    error: BaseException
    times: int | None  # None: every matching request
    when: Callable[[Any], bool] | None
    after: bool = False  # applied, then the error (value claims only)


class FakeEventLedger:
    """``ports.EventLedger``.

    - ``claim``: per event, a put conditioned on ``attribute_not_exists(pk) OR msg = :me``:
      the claiming message when it succeeds; otherwise the owner when it is one of the
      batch's messages holding the event, else None (another message, or consume, owns it).
    - ``write_log``: puts each chunk at ``(pk, sk)``; the same chunk again replaces itself.
    - ``committed_markers`` / ``commit``: message markers ``message_markers[pk] = counted``;
      ``commit`` is atomic: any unit whose marker exists cancels it (``CommitCancelled`` with
      those markers, codes per item like ``CancellationReasons``); more than 100 items is
      refused (``StoreRefused``), as DynamoDB's ValidationException.
    - ``claim_days``: per (month item, day), ``SET #d = :me, m = if_not_exists(m, :me)``
      if ``attribute_not_exists(#d) OR #d = :me``; returns the day's and the month's owner
      tags (the new item, or the old one when the condition fails), as the adapter does.
    - ``claim_lifetimes``: per value, ``o = :me`` if ``attribute_not_exists(pk) OR o = :me``;
      returns the owner's tag.
    - ``apply_idempotent``: max (greater wins), latest (newer tag wins).

    ``values[(pk, sk)]`` holds the value claim items (attributes as text).

    ``calls`` counts calls per method; ``requests`` counts requests (claims, chunks, keys).
    """

    def __init__(
        self,
        markers: Markers | None = None,
        counters: Counters | None = None,
        *,
        retention_days: int = 400,
    ) -> None:
        self.markers: Markers = markers if markers is not None else {}
        self.counters: Counters = counters if counters is not None else {}
        self.message_markers: dict[str, int] = {}
        self.log: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {}
        self.values: dict[tuple[str, str], dict[str, str]] = {}
        self.retention_days = retention_days
        self.calls: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.transactions: list[list[CommitUnit]] = []  # committed ones, in order
        self._failures: dict[str, list[_Failure]] = {m: [] for m in METHODS}
        self._lock = threading.RLock()

    # -------------------------------------------------------------- test controls
    def fail(
        self,
        method: str,
        error: BaseException,
        *,
        times: int | None = 1,
        when: Callable[[Any], bool] | None = None,
        after: bool = False,
    ) -> None:
        """The next ``times`` requests of ``method`` (every one with ``times=None``) that
        match ``when`` fail with ``error``, writing nothing (with ``after``, for value claims:
        written, then failed). ``when`` gets the request: a claim's ``(ref, me, holders)``, a
        ``DayClaim`` or ``LifetimeClaim``, a ``LogChunk``, the marker pks of
        ``committed_markers``, the units of a ``commit``, a counter key of ``apply_idempotent``."""
        if method not in METHODS:
            raise ValueError(f"no method {method!r}")
        if after and method not in ("claim_days", "claim_lifetimes"):
            raise ValueError("after=True is for value claims")
        self._failures[method].append(_Failure(error, times, when, after))

    def _failure(self, method: str, request: Any) -> _Failure | None:
        self.requests[method] += 1
        for f in self._failures[method]:
            if f.when is None or f.when(request):
                if f.times is not None:
                    f.times -= 1
                    if f.times <= 0:
                        self._failures[method].remove(f)
                return f
        return None

    def _injected(self, method: str, request: Any) -> BaseException | None:
        f = self._failure(method, request)
        return f.error if f is not None else None

    def value(self, key: CounterKey) -> Decimal | None:
        item = self.counters.get(key)
        return item.v if item is not None else None

    def value_items(self) -> int:
        return len(self.values)

    def owner(self, tenant: str, event_id: str) -> str | None:
        item = self.markers.get((tenant, event_id))
        return item.msg if item is not None else None

    def logged_ids(self, tenant: str | None = None) -> list[str]:
        """Ids of the logged events (of ``tenant``'s log partitions), each chunk's in order."""
        return [
            e["id"]
            for (pk, _), events in sorted(self.log.items())
            if tenant is None or pk.startswith(f"L#{tenant}#")
            for e in events
        ]

    # -------------------------------------------------------------- 1. claims
    def owners(self, refs: Sequence[EventRef]) -> dict[EventRef, str]:
        with self._lock:
            self.calls["owners"] += 1
            error = self._injected("owners", tuple(refs))
            if error is not None:
                raise _exception(error)
            found = ((ref, self.markers.get((ref.tenant, ref.event_id))) for ref in refs)
            return {ref: marker.msg for ref, marker in found if marker is not None}

    def claim(
        self, claims: Sequence[tuple[EventRef, str, Sequence[str]]], now: datetime
    ) -> list[str | None | Exception]:
        with self._lock:
            self.calls["claim"] += 1
            return [self._claim_one(ref, me, holders) for ref, me, holders in claims]

    def _claim_one(self, ref: EventRef, me: str, holders: Sequence[str]) -> str | None | Exception:
        error = self._injected("claim", (ref, me, tuple(holders)))
        if error is not None:
            return _exception(error)
        key = (ref.tenant, ref.event_id)
        existing = self.markers.get(key)
        if existing is None or existing.msg == me:
            self.markers[key] = MarkerItem(me)
            return me
        return existing.msg if existing.msg in holders else None

    # -------------------------------------------------------------- 1b. value claims
    def claim_days(self, claims: Sequence[DayClaim], now: datetime) -> list[DayOwners | Exception]:
        with self._lock:
            self.calls["claim_days"] += 1
            return [self._claim_day(c) for c in claims]

    def _claim_day(self, claim: DayClaim) -> DayOwners | Exception:
        failure = self._failure("claim_days", claim)
        if failure is not None and not failure.after:
            return _exception(failure.error)
        scope, me = claim.scope, claim.tag
        item = self.values.get(scope.item)
        if item is not None and item.get(scope.day, me) != me:  # attribute_not_exists(#d) OR #d = :me
            owners = DayOwners(item[scope.day], item.get("m"))  # ALL_OLD
        else:
            item = self.values.setdefault(scope.item, {})
            item[scope.day] = me
            item.setdefault("m", me)
            item["expires_at"] = str(month_item_expiry(scope.month_end, self.retention_days))
            owners = DayOwners(me, item["m"])  # ALL_NEW
        return _exception(failure.error) if failure is not None else owners

    def claim_lifetimes(self, claims: Sequence[LifetimeClaim], now: datetime) -> list[str | Exception]:
        with self._lock:
            self.calls["claim_lifetimes"] += 1
            return [self._claim_lifetime(c) for c in claims]

    def _claim_lifetime(self, claim: LifetimeClaim) -> str | Exception:
        failure = self._failure("claim_lifetimes", claim)
        if failure is not None and not failure.after:
            return _exception(failure.error)
        item = self.values.setdefault((claim.pk, keys.VALUE_LIFETIME_SK), {"o": claim.tag})
        return _exception(failure.error) if failure is not None else item["o"]

    # -------------------------------------------------------------- 2. raw-event log
    def write_log(self, chunks: Sequence[LogChunk], now: datetime) -> list[Exception | None]:
        with self._lock:
            self.calls["write_log"] += 1
            out: list[Exception | None] = []
            for c in chunks:
                error = self._injected("write_log", c)
                if error is None:
                    try:
                        c.body()  # the adapter encodes each chunk; one that cannot be fails alone
                    except Exception as exc:  # noqa: BLE001
                        error = exc
                if error is None:
                    self.log[(c.pk, c.sk)] = c.events
                out.append(None if error is None else _exception(error))
            return out

    # -------------------------------------------------------------- 3. commit
    def committed_markers(self, marker_pks: Sequence[str]) -> set[str]:
        with self._lock:
            self.calls["committed_markers"] += 1
            error = self._injected("committed_markers", list(marker_pks))
            if error is not None:
                raise error
            return {pk for pk in marker_pks if pk in self.message_markers}

    def commit(self, units: Sequence[CommitUnit], now: datetime) -> None:
        with self._lock:
            self.calls["commit"] += 1
            error = self._injected("commit", list(units))
            if error is not None:
                raise error
            pks = [u.marker_pk for u in units]
            deltas = coalesce_units(units)
            if len(pks) + len(deltas) > MAX_TRANSACT_ITEMS:
                raise StoreRefused(f"Member must have length less than or equal to {MAX_TRANSACT_ITEMS}")
            if len(set(pks)) != len(pks):
                raise StoreRefused("Transaction request cannot include multiple operations on one item")
            done = {pk for pk in pks if pk in self.message_markers}
            if done:
                codes = ["ConditionalCheckFailed" if pk in done else "None" for pk in pks] + ["None"] * len(deltas)
                raise CommitCancelled(done, True, codes)
            for u in units:
                self.message_markers[u.marker_pk] = u.counted
            for key, (delta, expires) in sorted(deltas.items()):
                add(self.counters, key, delta, expires)
            self.transactions.append(list(units))

    # -------------------------------------------------------------- 4. idempotent counters
    def apply_idempotent(self, updates: CounterUpdates) -> dict[CounterKey, Exception]:
        """One conditional update per key, in the adapter's order (max, latest). A failed
        condition is a success that changes nothing."""
        with self._lock:
            self.calls["apply_idempotent"] += 1
            changes: list[tuple[CounterKey, Callable[[CounterItem], str]]] = [
                *((k, _max(v)) for k, v in updates.max.items()),
                *((k, _latest(tag, v)) for k, (tag, v) in updates.latest.items()),
            ]
            failed: dict[CounterKey, Exception] = {}
            for key, change in changes:
                error = self._injected("apply_idempotent", key)
                if error is not None:
                    failed[key] = _exception(error)
                    continue
                item = self.counters.get(key, CounterItem())
                if change(item) == "written":
                    self.counters[key] = item
                    if (expires := updates.expires.get(key)) is not None:
                        item.expires_at = expires
            return failed


def _max(value: Decimal) -> Callable[[CounterItem], str]:
    def change(item: CounterItem) -> str:  # attribute_not_exists(v) OR v < :x
        if item.v is not None and not item.v < value:
            return "unchanged"
        item.v = value
        return "written"

    return change


def _latest(tag: str, value: Decimal) -> Callable[[CounterItem], str]:
    def change(item: CounterItem) -> str:  # attribute_not_exists(t) OR t < :t
        if item.t is not None and not item.t < tag:
            return "unchanged"
        item.v, item.t = value, tag
        return "written"

    return change


def _exception(error: BaseException) -> Exception:
    if not isinstance(error, Exception):
        raise error
    return error
