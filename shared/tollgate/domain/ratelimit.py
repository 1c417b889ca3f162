"""API rate limiting: GCRA with token leasing. Pure; no AWS.

A bucket allows ``per_second`` requests sustained and ``burst`` at once. Its whole state is
one number, the *theoretical arrival time* (TAT, integer microseconds since the epoch): a
request at ``now`` is admitted when ``max(TAT, now) + E - now <= burst * E`` (``E`` is the
emission interval ``1 / per_second``), and moves TAT to ``max(TAT, now) + E``.

Token leasing: an instance takes ``k`` tokens in one conditional write (TAT moves by
``k * E``) and spends them locally, so the bucket item sees one write per ``k`` requests.
``k`` grows with the rate (``per_second / 100``: at full rate the item takes about 100 lease
writes a second when few instances share it) and with the instance's own request rate (so an
instance writes about 10 times a second at most), but is never more than the instance spends
in ``LEASE_SPEND_S`` (tokens stranded on an instance are capacity lost to the others) nor half
the burst. Leased tokens are spent within ``LEASE_TTL_S`` or dropped: the bucket never admits
more than it granted, and an instance never saves tokens up past a refill.

A denied instance waits, without writing, until the bucket could grant its whole lease, and
at least ``DENY_MIN_S`` (jittered by the caller): a tenant far over its limit costs each
instance about 10 writes a second, not one per request. Nothing is lost by waiting while the
burst holds ``DENY_MIN_S`` of refill.

DynamoDB conditions cannot take ``max(TAT, now)``, so a lease is one of two conditional
updates, chosen from the last TAT the instance saw and corrected from the item returned when
the condition fails:

- *reset* (the bucket is idle, ``TAT < now - S`` or no item): ``SET tat = now + k*E``;
- *extend* (``now - S <= TAT <= now + L - k*E``): ``SET tat = tat + k*E``.

``S`` (slack, ``SLACK_S`` or a twentieth of the bucket, in whole emission intervals; 0 for
small buckets) lets *extend* also take a bucket that fell a little behind the clock, so that
instances of a tenant running at its rate - whose TAT hovers around now - rarely pick the
wrong branch. To never admit more than GCRA would, the room is ``L = burst*E - S``: a busy
bucket's burst is at most ``S/E`` tokens short (5 % at most), never over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

US = 1_000_000
LEASE_TTL_S = 1.0
TARGET_BUCKET_WRITES_PER_S = 100
"""Lease writes a second on one bucket item at the full rate (DynamoDB allows 1,000)."""
TARGET_INSTANCE_WRITES_PER_S = 10
SLACK_S = 0.05
LEASE_SPEND_S = 0.5
DENY_MIN_S = 0.1
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Bucket:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not self.per_second > 0 or self.burst < 1:
            raise ValueError("a bucket needs per_second > 0 and burst >= 1")

    @property
    def emission_us(self) -> int:
        return max(1, round(US / self.per_second))

    @property
    def tolerance_us(self) -> int:
        """``burst`` emission intervals (GCRA's tolerance)."""
        return self.burst * self.emission_us

    @property
    def slack_us(self) -> int:
        e = self.emission_us
        return min(int(SLACK_S * US), self.tolerance_us // 20) // e * e

    @property
    def room_us(self) -> int:
        """How far TAT may run ahead of now: the tolerance less the slack."""
        return self.tolerance_us - self.slack_us

    def idle(self, tat_us: int | None, now_us: int) -> bool:
        return tat_us is None or tat_us < now_us - self.slack_us


def lease_size(bucket: Bucket, local_rate: float) -> int:
    """Tokens to take in one write: enough that the bucket item sees about
    ``TARGET_BUCKET_WRITES_PER_S`` writes at the full rate and this instance about
    ``TARGET_INSTANCE_WRITES_PER_S``; no more than this instance spends in ``LEASE_SPEND_S``
    nor half the burst (other instances need tokens too); never less than one."""
    k = max(
        1,
        math.ceil(bucket.per_second / TARGET_BUCKET_WRITES_PER_S),
        math.ceil(local_rate / TARGET_INSTANCE_WRITES_PER_S),
    )
    return max(1, min(k, math.ceil(local_rate * LEASE_SPEND_S), bucket.burst // 2 or 1))


def deny_wait_us(bucket: Bucket, tat_us: int, now_us: int, want: int, jitter: float = 1.0) -> int:
    """How long a denied instance waits before asking again: until the bucket can grant half
    of ``want`` (what ``plan_write`` needs), and at least ``DENY_MIN_S`` (or half the bucket's
    refill time, if shorter) times ``jitter`` (so instances do not retry in step)."""
    until_lease = tat_us - bucket.room_us + max(1, (want + 1) // 2) * bucket.emission_us - now_us
    floor = int(min(int(DENY_MIN_S * US), bucket.tolerance_us // 2) * jitter)
    return max(until_lease, floor, 1)


def available(bucket: Bucket, tat_us: int | None, now_us: int) -> int:
    """Whole tokens the bucket could grant at ``now``."""
    base = now_us if tat_us is None or bucket.idle(tat_us, now_us) else tat_us
    return max(0, (now_us + bucket.room_us - base) // bucket.emission_us)


def next_token_at_us(bucket: Bucket, tat_us: int) -> int:
    """When one token becomes available again."""
    return tat_us - bucket.room_us + bucket.emission_us


class Branch(str, Enum):
    RESET = "reset"
    EXTEND = "extend"


@dataclass(frozen=True)
class LeaseWrite:
    """One conditional update to try: RESET writes ``tat = now + inc`` if ``tat < floor`` (or
    no item), EXTEND writes ``tat = tat + inc`` if ``floor <= tat <= max_tat``."""

    branch: Branch
    tokens: int
    now_us: int
    inc_us: int
    max_tat_us: int
    floor_us: int


def plan_write(
    bucket: Bucket, known_tat_us: int | None, now_us: int, want: int, busy: bool = False
) -> LeaseWrite | None:
    """The write for a lease of up to ``want`` tokens, given the TAT last seen; None when the
    bucket (as last seen) has less than half of ``want`` to give: a saturated bucket is not
    leased in scraps (each a write), its instances wait for a real slice instead."""
    tokens = min(want, available(bucket, known_tat_us, now_us))
    if tokens < max(1, (want + 1) // 2):
        return None
    inc = tokens * bucket.emission_us
    branch = Branch.EXTEND if busy or not bucket.idle(known_tat_us, now_us) else Branch.RESET
    return LeaseWrite(branch, tokens, now_us, inc, now_us + bucket.room_us - inc, now_us - bucket.slack_us)


def apply_write(write: LeaseWrite, stored_tat_us: int | None) -> int | None:
    """The new TAT if the write's condition holds on ``stored_tat_us``, else None. (The
    reference semantics of both conditional updates; the fake store and the tests use it.)"""
    if write.branch is Branch.RESET:
        if stored_tat_us is None or stored_tat_us < write.floor_us:
            return write.now_us + write.inc_us
        return None
    if stored_tat_us is not None and write.floor_us <= stored_tat_us <= write.max_tat_us:
        return stored_tat_us + write.inc_us
    return None
