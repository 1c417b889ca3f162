"""The RateLimit headers of a response (draft-ietf-httpapi-ratelimit-headers, in RFC 8941
structured fields): ``RateLimit-Policy: "<name>";q=<limit>;w=<seconds>`` and
``RateLimit: "<name>";r=<remaining>;t=<seconds to reset>``, one list member per limit, plus
``Retry-After`` on a denial.

Two sources: a consume decision (one member per limit, ``<meter>.<window>``) and the API rate
limit (one member, ``api``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from tollgate.domain.decisions import DecisionDoc, doc_retry_after, seconds_until
from tollgate.domain.numbers import as_decimal

if TYPE_CHECKING:
    from tollgate.services.ratelimit import RateDecision

SF_INTEGER_MAX = 999_999_999_999_999  # RFC 8941 sf-integer: at most 15 digits
API_POLICY_NAME = "api"


def _sf_string(text: str) -> str:
    if any(not 0x20 <= ord(c) <= 0x7E for c in text):
        raise ValueError(f"{text!r} is not printable ASCII")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sf_int(value: Decimal | int) -> int:
    """A non-negative RFC 8941 integer: fractions round down, and at most 15 digits."""
    whole = int(as_decimal(value).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(SF_INTEGER_MAX, whole))


@dataclass(frozen=True)
class HeaderPolicy:
    """One member of the RateLimit lists."""

    name: str
    quota: Decimal | int
    window_s: int | None
    remaining: Decimal | int
    reset_s: int | None


def ratelimit_headers(policies: Sequence[HeaderPolicy], retry_after_s: int | None = None) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` (and ``Retry-After`` when given). A policy with
    no window (lifetime) has no ``w`` and no ``t``."""
    headers: dict[str, str] = {}
    if policies:
        pol, cur = [], []
        for p in policies:
            name = _sf_string(p.name)
            pol.append(f"{name};q={_sf_int(p.quota)}" + (f";w={p.window_s}" if p.window_s is not None else ""))
            cur.append(f"{name};r={_sf_int(p.remaining)}" + (f";t={p.reset_s}" if p.reset_s is not None else ""))
        headers["RateLimit-Policy"] = ", ".join(pol)
        headers["RateLimit"] = ", ".join(cur)
    if retry_after_s is not None:
        headers["Retry-After"] = str(max(1, int(retry_after_s)))
    return headers


def ceil_seconds(seconds: float) -> int:
    return max(1, int(Decimal(str(seconds)).to_integral_value(rounding=ROUND_CEILING)))


def doc_headers(doc: DecisionDoc, now: datetime) -> dict[str, str]:
    """RateLimit-Policy, RateLimit (and Retry-After for a denial) of a consume decision, with
    ``t`` counted from ``now`` (a replay answers the original decision with a fresh ``t``)."""
    windows = doc.get("w") or [None] * len(doc["limits"])
    policies = [
        HeaderPolicy(
            name=f"{e['meter']}.{e['window']}",
            quota=as_decimal(e["limit"]),
            window_s=w,
            remaining=as_decimal(e["remaining"]),
            reset_s=seconds_until(e["resets_at"], now),
        )
        for e, w in zip(doc["limits"], windows, strict=True)
    ]
    return ratelimit_headers(policies, doc_retry_after(doc, now))


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    """RateLimit headers of an API rate-limit denial: the policy is ``burst`` requests per the
    time the bucket takes to refill (``q/w`` is the sustained rate)."""
    window = ceil_seconds(decision.limit.burst / float(decision.limit.per_second))
    retry = ceil_seconds(decision.retry_after_s)
    policy = HeaderPolicy(API_POLICY_NAME, decision.limit.burst, window, 0, retry)
    return ratelimit_headers([policy], retry)
