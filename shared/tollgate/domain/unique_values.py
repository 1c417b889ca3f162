"""Exact unique_count: value claims and the counter deltas they give. Pure; no AWS.

A unique_count meter is counted in day, month and lifetime windows (``UNIQUE_WINDOWS``).
Its counter items hold ``v``, the number of distinct values, maintained by ``ADD v :n`` in
the commit transaction like sum and count deltas. Which message adds 1 for a value is
decided by *value claims* on the events table (docs/storage.md, "Value claims"):

- a month item per (scope, value, month): ``m`` = the owner tag of the month's first
  claimer, and ``d01``..``d31`` = the owner tag of each local day's first claimer;
- a lifetime item per (scope, value): ``o`` = the owner tag of its first claimer.

A scope is the total or one ``group_by`` dimension=value the event carries. Owners never
change; only an owner counts, in its own commit transaction, so the count is exactly once
like the event's. This module plans which claims a wave makes and turns their results into
each message's deltas.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from . import storage_keys as keys
from .meters import MeterSpec
from .periods import Window, utc_key, window_end, window_start
from .storage_keys import CounterKey
from .times import parse_time
from .usage import UsageEvent

OWNER_TAG_BYTES = 12
"""blake2b-96 of the SQS message id, as 16 urlsafe base64 characters."""

VALUE_HASH_BYTES = 16
"""blake2b-128 of (scope, value): the value claim's partition key spreads over partitions."""


@lru_cache(maxsize=1024)
def owner_tag(message_id: str) -> str:
    """The compact tag a value claim stores for its owner (16 characters: a month item with
    31 days stays under 1 KB). Two messages of one wave with the same tag would be taken for
    each other: 2^-96 per pair (docs/storage.md)."""
    digest = hashlib.blake2b(message_id.encode("utf-8"), digest_size=OWNER_TAG_BYTES).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def value_hash(dimension: str | None, dimension_value: str | None, value: str) -> str:
    """32 hex characters for a value in a scope (the total: no dimension). The text hashed is
    length-prefixed, so no two (scope, value) pairs hash the same text."""
    if dimension is None:
        text = f"T{value}"
    else:
        assert dimension_value is not None
        text = f"G{len(dimension)}:{dimension}{len(dimension_value)}:{dimension_value}{value}"
    return hashlib.blake2b(text.encode("utf-8"), digest_size=VALUE_HASH_BYTES).hexdigest()


@dataclass(frozen=True)
class ValueScope:
    """One value of one event in one scope: the month item, the day attribute, and the three
    counter keys its owners add 1 to."""

    pk: str  # V#<tenant>#<meter>#<value hash>
    month_sk: str  # M#<month window key>
    day: str  # d01..d31: the day of the month in the tenant's zone
    month_end: int  # epoch seconds: the month item expires a retention after it
    day_key: CounterKey
    month_key: CounterKey
    lifetime_key: CounterKey

    @property
    def item(self) -> tuple[str, str]:
        return self.pk, self.month_sk


def _keys(tenant: str, meter: str, window: Window, window_key: str, dim: str | None, value: str | None) -> CounterKey:
    if dim is None:
        return CounterKey(keys.total_pk(tenant, meter, window), keys.total_sk(window_key))
    assert value is not None
    return CounterKey(keys.group_pk(tenant, meter, window, dim), keys.group_sk(window_key, value))


class _Windows(NamedTuple):
    day_key: str
    month_key: str
    day_of_month: int
    month_end: int


@lru_cache(maxsize=4096)
def _windows(minute: str, tz: ZoneInfo) -> _Windows:
    """The day and month holding a minute (``YYYY-MM-DDTHH:MM`` UTC): every zone's offset
    is whole minutes, so one minute never spans two days."""
    at = parse_time(f"{minute}:00.000000Z")
    day = window_start(at, Window.DAY, tz)
    month = window_start(at, Window.MONTH, tz)
    assert day is not None and month is not None
    end = window_end(month, Window.MONTH, tz)
    assert end is not None
    return _Windows(utc_key(day), utc_key(month), day.astimezone(tz).day, int(end.timestamp()))


def value_scopes(tenant: str, tz: ZoneInfo, meter: MeterSpec, event: UsageEvent) -> list[ValueScope]:
    """The scopes of a unique_count event: the total, then each group_by dimension it carries."""
    w = _windows(event.time[:16], tz)
    day_key, month_key = w.day_key, w.month_key
    life_key = utc_key(None)
    out = []
    scopes: list[tuple[str | None, str | None]] = [(None, None)]
    scopes += [(d, event.dims[d]) for d in meter.group_by if d in event.dims]
    for dim, dim_value in scopes:
        out.append(
            ValueScope(
                pk=keys.value_claim_pk(tenant, event.meter, value_hash(dim, dim_value, event.value)),
                month_sk=keys.value_month_sk(month_key),
                day=keys.value_day_attribute(w.day_of_month),
                month_end=w.month_end,
                day_key=_keys(tenant, event.meter, Window.DAY, day_key, dim, dim_value),
                month_key=_keys(tenant, event.meter, Window.MONTH, month_key, dim, dim_value),
                lifetime_key=_keys(tenant, event.meter, Window.LIFETIME, life_key, dim, dim_value),
            )
        )
    return out


# ------------------------------------------------------------------ the claims of a wave
@dataclass(frozen=True)
class DayClaim:
    """Claim one day of a month item for ``claimer`` (the first holder, in batch order)."""

    scope: ValueScope
    claimer: str  # message id
    holders: tuple[str, ...]  # messages of the wave owning an event of this value and day

    @property
    def tag(self) -> str:
        return owner_tag(self.claimer)


class DayOwners(NamedTuple):
    """What a day claim found: the day's owner tag and the month's (``m``)."""

    day: str
    month: str | None


@dataclass(frozen=True)
class LifetimeClaim:
    """Claim a value's lifetime item for ``claimer`` (the first month owner of the wave)."""

    pk: str
    lifetime_key: CounterKey
    claimer: str
    holders: tuple[str, ...]  # month owners of the wave for this value and scope

    @property
    def tag(self) -> str:
        return owner_tag(self.claimer)


def day_claims(owned: Sequence[tuple[str, Iterable[ValueScope]]]) -> list[DayClaim]:
    """One claim per (month item, day) of a wave's owned unique events. ``owned`` is
    ``(message id, scopes of the events it owns)`` in batch order."""
    holders: dict[tuple[str, str, str], list[str]] = {}
    first: dict[tuple[str, str, str], ValueScope] = {}
    for message_id, scopes in owned:
        for s in scopes:
            k = (s.pk, s.month_sk, s.day)
            first.setdefault(k, s)
            h = holders.setdefault(k, [])
            if message_id not in h:
                h.append(message_id)
    return [DayClaim(first[k], h[0], tuple(h)) for k, h in holders.items()]


def _holder(tag: str | None, holders: Sequence[str]) -> str | None:
    if tag is None:
        return None
    for m in holders:
        if owner_tag(m) == tag:
            return m
    return None


@dataclass
class ValuePlan:
    """Per message, the counter deltas its value claims give it (``ADD v :n``), and the
    messages whose claim outcome is unknown (they must not commit in this invocation)."""

    adds: dict[str, dict[CounterKey, int]] = field(default_factory=dict)
    failed: dict[str, Exception] = field(default_factory=dict)

    def add(self, message_id: str, key: CounterKey, n: int = 1) -> None:
        mine = self.adds.setdefault(message_id, {})
        mine[key] = mine.get(key, 0) + n

    def fail(self, holders: Iterable[str], error: Exception) -> None:
        for m in holders:
            self.failed.setdefault(m, error)


def settle_days(
    claims: Sequence[DayClaim], results: Sequence[DayOwners | Exception], plan: ValuePlan
) -> list[LifetimeClaim]:
    """Day and month deltas from the day claims' results, and the lifetime claims to make.

    The day's owner, if it holds the day in this wave, adds 1 to the day counter. The month's
    owner (``m``), if it holds any day of that month item in this wave, adds 1 to the month
    counter (once per item) and claims the lifetime item."""
    month_holders: dict[tuple[str, str], list[str]] = {}
    for c in claims:
        h = month_holders.setdefault(c.scope.item, [])
        h += [m for m in c.holders if m not in h]
    month_owner: dict[tuple[str, str], tuple[str, ValueScope]] = {}
    for c, result in zip(claims, results, strict=True):
        if isinstance(result, Exception):
            plan.fail(c.holders, result)
            continue
        day_owner = _holder(result.day, c.holders)
        if day_owner is not None:
            plan.add(day_owner, c.scope.day_key)
        owner = _holder(result.month, month_holders[c.scope.item])
        if owner is not None:
            month_owner.setdefault(c.scope.item, (owner, c.scope))
    lifetime: dict[str, list[tuple[str, ValueScope]]] = {}
    for owner, scope in month_owner.values():
        plan.add(owner, scope.month_key)
        if owner not in plan.failed:
            lifetime.setdefault(scope.pk, []).append((owner, scope))
    out = []
    for pk, owners in lifetime.items():
        ids = [m for m, _ in owners]
        ordered = tuple(dict.fromkeys(ids))
        out.append(LifetimeClaim(pk, owners[0][1].lifetime_key, ordered[0], ordered))
    return out


def settle_lifetimes(claims: Sequence[LifetimeClaim], results: Sequence[str | Exception], plan: ValuePlan) -> None:
    """The lifetime owner, if it holds the claim in this wave, adds 1 to the lifetime counter."""
    for c, result in zip(claims, results, strict=True):
        if isinstance(result, Exception):
            plan.fail(c.holders, result)
            continue
        owner = _holder(result, c.holders)
        if owner is not None:
            plan.add(owner, c.lifetime_key)


def month_item_expiry(month_end: int, retention_days: int) -> int:
    """A month item outlives every event that can still be accepted for its month (ingest
    takes events up to 35 days old; retention is at least 36 days)."""
    return month_end + retention_days * 86_400
