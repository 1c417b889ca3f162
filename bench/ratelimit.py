"""Section: the API rate limiter - writes per second on the hottest DynamoDB item at 10,000
requests/s for one tenant, and CPU per check.

Simulated, on a fake clock: one tenant sends 10,000 requests/s (evenly spaced, each to a
random one of N Lambda instances) for 5 s; its plan allows 10,000/s with a burst of 20,000.
Each instance runs the real limiter (tollgate.services.ratelimit.RateLimiter) against an
in-memory store with the DynamoDB store's conditional semantics (tests hold the two to one
contract). Writes are counted per item and per second, failed conditional writes included
(DynamoDB bills them). A second run has the tenant send 3x its limit (a noisy tenant).
CPU per check is the median ``process_time`` of the limiter alone, mostly on leased tokens.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAME = "ratelimit"
RATE = 10_000
SECONDS = 5
TARGET_WRITES_PER_ITEM = 1000
T0 = 1_800_000_000.0


def _simulate(instances: int, offered: int, per_second: int, burst: int, seed: int = 1) -> dict[str, Any]:
    from tests.fakes.ratelimit import FakeBucketStore
    from tollgate.domain.plans import ApiRateLimit
    from tollgate.services.ratelimit import RateLimiter

    now = [T0]
    store = FakeBucketStore()
    limiters = [RateLimiter(store, lambda: now[0]) for _ in range(instances)]
    limit = ApiRateLimit(Decimal(per_second), burst)
    rnd = random.Random(seed)
    admitted = 0
    total = offered * SECONDS
    for i in range(total):
        now[0] = T0 + i / offered
        admitted += rnd.choice(limiters).acquire("t#hot", limit).allowed
    per_second_writes = [n for (key, _), n in store.writes.items() if key == "t#hot"]
    return {
        "instances": instances,
        "offered_per_s": offered,
        "admitted_per_s": round(admitted / SECONDS),
        "hottest_item_writes_per_s_max": max(per_second_writes),
        "hottest_item_writes_per_s_mean": round(statistics.mean(per_second_writes), 1),
        "hottest_item_writes_per_s_by_second": per_second_writes,
        "writes_per_request": round(sum(per_second_writes) / total, 4),
    }


def _cpu_per_check() -> float:
    from tests.fakes.ratelimit import FakeBucketStore
    from tollgate.domain.plans import ApiRateLimit
    from tollgate.services.ratelimit import RateLimiter

    now = [T0]
    limiter = RateLimiter(FakeBucketStore(), lambda: now[0])
    limit = ApiRateLimit(Decimal(RATE), 2 * RATE)
    samples = []
    for _ in range(7):
        n = 50_000
        start = time.process_time()
        for _ in range(n):
            now[0] += 1 / RATE
            limiter.acquire("t#cpu", limit)
        samples.append((time.process_time() - start) / n)
    return statistics.median(samples)


def run() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "shared"))
    runs = [_simulate(n, RATE, RATE, 2 * RATE) for n in (1, 10, 50, 200)]
    noisy = _simulate(50, 3 * RATE, RATE, 2 * RATE)
    return {"at_the_limit": runs, "noisy_3x": noisy, "cpu_us_per_check": round(_cpu_per_check() * 1e6, 2)}


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for r in [*result["at_the_limit"], result["noisy_3x"]]:
        what = (
            f"rate limiter, {r['offered_per_s']:,} req/s on one tenant (limit {RATE:,}/s), "
            f"{r['instances']} instance(s): writes/s on the hottest item"
        )
        figure = (
            f"max {r['hottest_item_writes_per_s_max']} (mean {r['hottest_item_writes_per_s_mean']}); "
            f"admitted {r['admitted_per_s']:,}/s incl. the burst"
        )
        met = "yes" if r["hottest_item_writes_per_s_max"] <= TARGET_WRITES_PER_ITEM else "NO"
        out.append((what, figure, f"<= {TARGET_WRITES_PER_ITEM}", met))
    out.append(("rate limiter CPU per check (leased tokens)", f"{result['cpu_us_per_check']} us", "-", "-"))
    return out
