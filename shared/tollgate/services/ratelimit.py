"""Per-tenant (or per-key) API rate limiting for every authenticated route.

``ApiRateLimits.check(principal)`` runs in ``Edge`` right after authentication. Buckets:

- a tenant key: one bucket per tenant (``t#<tenant>``), sized by the tenant's plan's
  ``api_rate_limit`` (or the default when the tenant has no plan, or the plan sets none);
- an admin or ingest key: one bucket per key (``k#<key id>``), with the default
  (``DEFAULT_API_RATE_PER_SECOND`` / ``DEFAULT_API_BURST``, template parameters).

Each instance leases tokens from the bucket item in slices (tollgate.domain.ratelimit) and
spends them locally, so most requests cost no DynamoDB call at all; a denied instance also
remembers when the next token comes and denies locally until then.

Failure policy: the limiter fails *open*. If the bucket table cannot be reached, the
instance admits a local slice for one second and logs it; rate limiting protects capacity,
and must not itself take the API down. Likewise under contention: when every attempt lost a
race to other instances while the bucket still had room, the request is admitted (one token,
no lease); a bucket that is out of tokens still denies. ``RATE_LIMITS_TABLE`` unset (outside the template's
functions, e.g. a benchmark with AWS stubbed) turns the limiter off (``Settings.rate_limits_table``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tollgate.domain.keys import Principal, Scope
from tollgate.domain.plans import ApiRateLimit
from tollgate.domain.ratelimit import (
    LEASE_TTL_S,
    MAX_ATTEMPTS,
    US,
    Bucket,
    LeaseWrite,
    deny_wait_us,
    lease_size,
    plan_write,
)

from .catalog import Catalog
from .ports import BucketStore

log = logging.getLogger(__name__)

FAIL_OPEN_S = 1.0
POLICY_NAME = "api"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    bucket_key: str
    limit: ApiRateLimit
    retry_after_s: float = 0.0


@dataclass
class _Local:
    """What one instance knows about one bucket."""

    tokens: int = 0
    lease_expires: float = 0.0
    deny_until: float = 0.0
    open_until: float = 0.0  # the store failed: admit without it until then
    known_tat_us: int | None = None
    busy_until: float = 0.0  # the bucket was ahead of the clock when last seen: assume it still is
    last_at: float | None = None
    mean_gap: float = 1.0

    def observe(self, now: float) -> float:
        """This instance's request rate on the bucket: 1 / the moving average of the gaps
        between its requests (the first gap at first; a second at most)."""
        if self.last_at is not None:
            gap = min(1.0, max(1e-6, now - self.last_at))
            self.mean_gap = gap if self.mean_gap >= 1.0 else 0.8 * self.mean_gap + 0.2 * gap
        self.last_at = now
        return 1.0 / max(self.mean_gap, 1e-6)


class RateLimiter:
    def __init__(self, store: BucketStore, now: Callable[[], float] | None = None) -> None:
        self.store = store
        self._now = now or time.time
        self._local: dict[str, _Local] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.store_writes = 0

    def reset(self) -> None:
        with self._guard:
            self._local.clear()
            self._locks.clear()

    def _state(self, key: str) -> tuple[_Local, threading.Lock]:
        with self._guard:
            if key not in self._local:
                self._local[key] = _Local()
                self._locks[key] = threading.Lock()
            return self._local[key], self._locks[key]

    def acquire(self, key: str, limit: ApiRateLimit) -> RateDecision:
        bucket = Bucket(float(limit.per_second), int(limit.burst))
        local, lock = self._state(key)
        with lock:
            now = self._now()
            rate = local.observe(now)
            if now < local.deny_until:
                return RateDecision(False, key, limit, local.deny_until - now)
            if now < local.open_until:
                return RateDecision(True, key, limit)
            if local.tokens > 0 and now < local.lease_expires:
                local.tokens -= 1
                return RateDecision(True, key, limit)
            return self._lease(key, bucket, limit, local, now, rate)

    def _lease(
        self, key: str, bucket: Bucket, limit: ApiRateLimit, local: _Local, now: float, rate: float
    ) -> RateDecision:
        want = lease_size(bucket, rate)
        local.tokens = 0
        for attempt in range(MAX_ATTEMPTS):
            write = self._plan(bucket, local, now, want)
            if write is None and attempt:
                # The bucket looked full, but only after a lost race, on a clock that the round
                # trips have left behind: look again at the clock as it is now before denying.
                now = self._now()
                write = self._plan(bucket, local, now, want)
            if write is None:
                return self._deny(key, bucket, limit, local, now, want)
            try:
                self.store_writes += 1
                ok, tat = self.store.write(key, write)
            except Exception:
                log.warning("rate-limit store unavailable; admitting for %s s", FAIL_OPEN_S, exc_info=True)
                local.open_until = now + FAIL_OPEN_S
                return RateDecision(True, key, limit)
            local.known_tat_us = tat
            # Seen busy (TAT at or past the clock, less the slack): other instances keep it so for
            # a while; guess "extend" for the next second rather than "reset".
            local.busy_until = now + 1.0 if tat is not None and not bucket.idle(tat, int(now * US)) else 0.0
            if ok:
                local.tokens, local.lease_expires = write.tokens - 1, now + LEASE_TTL_S
                return RateDecision(True, key, limit)
        # Every attempt lost a race, yet the bucket, as last seen, had room for a lease: that is
        # contention, not exhaustion. Admit this one request (no lease, so at most one token over
        # per contended instance) rather than deny a tenant that is within its rate.
        log.info("rate-limit bucket %s contended; admitting one request", key)
        return RateDecision(True, key, limit)

    @staticmethod
    def _plan(bucket: Bucket, local: _Local, now: float, want: int) -> LeaseWrite | None:
        return plan_write(bucket, local.known_tat_us, int(now * US), want, busy=now < local.busy_until)

    @staticmethod
    def _deny(key: str, bucket: Bucket, limit: ApiRateLimit, local: _Local, now: float, want: int) -> RateDecision:
        now_us = int(now * US)
        tat = local.known_tat_us if local.known_tat_us is not None else now_us
        wait = deny_wait_us(bucket, tat, now_us, want, jitter=random.uniform(1.0, 1.5)) / US  # noqa: S311
        local.deny_until = now + wait
        return RateDecision(False, key, limit, wait)


# ------------------------------------------------------------------ the API rate limit
class ApiRateLimits:
    """The Edge's rate-limit step: which bucket a principal spends from, and at what rate.
    ``limiter`` None turns rate limiting off (no RATE_LIMITS_TABLE)."""

    def __init__(self, limiter: RateLimiter | None, catalog: Catalog, default: ApiRateLimit) -> None:
        self.limiter, self._catalog, self._default = limiter, catalog, default

    def default_limit(self) -> ApiRateLimit:
        return self._default

    def bucket_for(self, p: Principal) -> tuple[str, ApiRateLimit]:
        if p.scope is Scope.TENANT and p.tenant_id:
            return f"t#{p.tenant_id}", self._catalog.api_rate_limit(p.tenant_id) or self._default
        return f"k#{p.key_id}", self._default

    def check(self, p: Principal) -> RateDecision | None:
        """None when rate limiting is off."""
        if self.limiter is None:
            return None
        key, limit = self.bucket_for(p)
        return self.limiter.acquire(key, limit)
