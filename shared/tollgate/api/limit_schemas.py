"""Schemas of plans, limits, overrides, quotas, consume and the audit trail."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_serializer,
)

from tollgate.domain.audit import AuditEntry
from tollgate.domain.events import MAX_ID_LENGTH
from tollgate.domain.meters import METER_KEY_PATTERN
from tollgate.domain.periods import Window
from tollgate.domain.plans import (
    DEFAULT_CURRENCY,
    DEFAULT_THRESHOLDS,
    MAX_LIMIT_VALUE,
    MAX_LIMITS,
    MAX_THRESHOLDS,
    ApiRateLimit,
    EffectiveLimit,
    Enforcement,
    LateFee,
    Limit,
    Plan,
    duplicate_keys,
)
from tollgate.domain.pricing import MAX_CHARGES, MAX_TIERS, Charge, Model, decimal_text
from tollgate.domain.quota import LimitState, Status

from .schemas import Currency, Instant, Name, Number, Reason, Strict, TenantId, TenantOut

WindowName = Literal["minute", "hour", "day", "month", "lifetime"]
MeterKey = Annotated[str, StringConstraints(pattern=METER_KEY_PATTERN)]


def _number_only(v: Any) -> Any:
    """A JSON number (not a string, not a boolean), as an exact Decimal."""
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        raise ValueError("must be a number")
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return Decimal(repr(v))
    return Decimal(v)


JsonNumber = Annotated[Decimal, BeforeValidator(_number_only)]

DECIMAL_PATTERN = r"^-?[0-9]{1,31}(\.[0-9]{1,20})?$"
MAX_AMOUNT = Decimal("1e30")


def _decimal_in(v: Any) -> Any:
    """A JSON number or a decimal string (``"0.0004"``: exact, as no double is), as a Decimal.
    Signs are checked by the pricing rules, so a negative amount's error names its field."""
    if isinstance(v, str):
        if not re.fullmatch(DECIMAL_PATTERN, v):
            raise ValueError('must be a number or a decimal string such as "12.50"')
        d = Decimal(v)
    else:
        d = _number_only(v)
    if abs(d) > MAX_AMOUNT:
        raise ValueError("must be at most 1e30")
    return d


DecimalIn = Annotated[
    Decimal,
    BeforeValidator(_decimal_in),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_PATTERN}]}, mode="validation"),
]
"""An amount in a request: a JSON number, or a decimal string to send it exactly."""

DecimalText = Annotated[
    Decimal,
    PlainSerializer(decimal_text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}, mode="serialization"),
]
"""An amount in a response: its exact decimal text (``"0.0004"``, ``"29.00"``)."""


# ------------------------------------------------------------------ limits and plans
class LimitIn(Strict):
    meter: MeterKey = Field(description="The meter key (it need not exist yet).")
    window: WindowName = Field(
        description="minute, hour, day, month (in the tenant's zone) or lifetime; day, month or lifetime for a "
        "unique_count meter (422 otherwise)."
    )
    limit: JsonNumber = Field(ge=0, le=MAX_LIMIT_VALUE, description="In the meter's unit; 0 allows nothing.")
    enforcement: Enforcement = Field(default=Enforcement.HARD, description="hard denies; soft admits and flags.")
    thresholds: list[JsonNumber] = Field(
        default_factory=lambda: list(DEFAULT_THRESHOLDS),
        max_length=MAX_THRESHOLDS,
        description="Fractions of the limit that raise alerts (above 1 for overage); default [0.8, 1.0].",
    )

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: list[Decimal]) -> list[Decimal]:
        for t in v:
            if not Decimal(0) < t <= Decimal(10):
                raise ValueError("each threshold is a fraction above 0 and at most 10")
        if len(set(v)) != len(v):
            raise ValueError("thresholds must be unique")
        return sorted(v)

    def domain(self) -> Limit:
        return Limit(self.meter, Window(self.window), self.limit, self.enforcement, tuple(self.thresholds))


def _unique_limits(v: list[LimitIn]) -> list[LimitIn]:
    dupes = duplicate_keys([lim.domain() for lim in v])
    if dupes:
        first = v[dupes[0]]
        raise ValueError(f"limits[{dupes[0]}] repeats meter {first.meter!r} and window {first.window!r}")
    return v


class ApiRateLimitIn(Strict):
    per_second: JsonNumber = Field(gt=0, le=1_000_000, description="Requests per second, sustained.")
    burst: int = Field(ge=1, le=10_000_000, strict=True, description="Requests at once (the bucket's size).")

    def domain(self) -> ApiRateLimit:
        return ApiRateLimit(self.per_second, self.burst)


class TierIn(Strict):
    up_to: DecimalIn | None = Field(
        default=None, description="Inclusive upper bound, above the previous tier's; null (or absent) on the last."
    )
    unit_amount: DecimalIn = Field(description="Per unit in this tier.")
    flat_amount: DecimalIn | None = Field(default=None, description="Charged once the tier is entered; default 0.")


class ChargeIn(Strict):
    """One meter's price (or one value of one of its group_by dimensions, with ``filter``).
    Amounts are JSON numbers or decimal strings, none negative."""

    meter: MeterKey = Field(description="An existing meter.")
    model: Model = Field(
        description="per_unit (`unit_amount`), graduated or volume (`tiers`), package (`package_size`, "
        "`package_amount`; partial packages round up) or percentage (`rate` percent of a sum meter's value, "
        "plus `fixed_amount` per event)."
    )
    unit_amount: DecimalIn | None = None
    tiers: list[TierIn] | None = Field(default=None, description=f"graduated and volume: 1 to {MAX_TIERS} tiers.")
    package_size: DecimalIn | None = Field(default=None, description="package: units per package, above 0.")
    package_amount: DecimalIn | None = None
    rate: DecimalIn | None = Field(default=None, description="percentage: a percent (2.9 is 2.9 %).")
    fixed_amount: DecimalIn | None = Field(
        default=None, description="percentage: per event, counted by `events_meter`; default 0."
    )
    events_meter: MeterKey | None = Field(
        default=None,
        description="percentage with a fixed_amount: a count meter of the same events (its period total is "
        "the number of events; the counters keep a sum meter's sum, not its event count).",
    )
    free_units: DecimalIn | None = Field(
        default=None, description="Units included: subtracted from the quantity before pricing; default 0."
    )
    filter: dict[str, str] | None = Field(
        default=None, description="`{dimension: value}`: one of the meter's group_by dimensions and one value."
    )


class LateFeeIn(Strict):
    type: Literal["percentage", "fixed"] = Field(
        description="percentage: `value` percent of what is due; fixed: `value`."
    )
    value: DecimalIn = Field(description="A percent (0 to 100) or an amount in the plan's currency; not negative.")
    after_days: int = Field(ge=0, le=365, description="Days overdue (after `due_at`) before the fee accrues, once.")

    def domain(self) -> LateFee:
        return LateFee(self.type, self.value, self.after_days)


class LateFeeOut(BaseModel):
    type: Literal["percentage", "fixed"]
    value: DecimalText
    after_days: int


class PlanIn(Strict):
    name: Name
    limits: list[LimitIn] = Field(default_factory=list, max_length=MAX_LIMITS)
    api_rate_limit: ApiRateLimitIn | None = Field(
        default=None, description="Per-tenant API rate limit; default: the deployment's default."
    )
    currency: Currency = Field(
        default=DEFAULT_CURRENCY,
        description="ISO 4217 code of every amount of the plan; a tenant on the plan must have the same currency.",
    )
    base_fee: DecimalIn = Field(
        default=Decimal(0), description="Charged per billing period (in arrears); not negative; default 0."
    )
    minimum_commitment: DecimalIn | None = Field(
        default=None, description="Per billing period: the least the period is invoiced; not negative; optional."
    )
    charges: list[ChargeIn] = Field(
        default_factory=list,
        max_length=MAX_CHARGES,
        description="Usage prices: at most one unfiltered charge per meter, and filtered ones on one dimension "
        "with distinct values. See docs/billing.md.",
    )
    late_fee: LateFeeIn | None = Field(
        default=None,
        description="An invoice overdue for `after_days` accrues one fee, charged on the tenant's next invoice "
        "(a `late_fee` line) and shown on the overdue one as `late_fee_pending`.",
    )
    reason: Reason | None = Field(default=None, description="Kept in the audit trail only.")

    _unique = field_validator("limits")(_unique_limits)

    def raw_charges(self) -> list[dict[str, Any]]:
        """The charges as ``pricing.parse_charges`` reads them (absent fields as None)."""
        return [c.model_dump() for c in self.charges]


class TierOut(BaseModel):
    up_to: DecimalText | None = Field(description="Inclusive; null on the last tier.")
    unit_amount: DecimalText
    flat_amount: DecimalText


class ChargeOut(BaseModel):
    """A charge; the fields its model does not use are null. Amounts are decimal strings."""

    meter: str
    model: Model
    unit_amount: DecimalText | None = None
    tiers: list[TierOut] | None = None
    package_size: DecimalText | None = None
    package_amount: DecimalText | None = None
    rate: DecimalText | None = None
    fixed_amount: DecimalText | None = None
    events_meter: str | None = None
    free_units: DecimalText
    filter: dict[str, str] | None

    @classmethod
    def of(cls, c: Charge) -> ChargeOut:
        out = cls(meter=c.meter, model=c.model, free_units=c.free_units, filter=dict([c.filter]) if c.filter else None)
        if c.model is Model.PER_UNIT:
            out.unit_amount = c.unit_amount
        elif c.model in (Model.GRADUATED, Model.VOLUME):
            out.tiers = [TierOut(up_to=t.up_to, unit_amount=t.unit_amount, flat_amount=t.flat_amount) for t in c.tiers]
        elif c.model is Model.PACKAGE:
            out.package_size, out.package_amount = c.package_size, c.package_amount
        else:
            out.rate, out.fixed_amount, out.events_meter = c.rate, c.fixed_amount, c.events_meter
        return out


class LimitOut(BaseModel):
    meter: str
    window: WindowName
    limit: Number
    enforcement: Enforcement
    thresholds: list[Number]

    @classmethod
    def of(cls, lim: Limit) -> LimitOut:
        return cls(
            meter=lim.meter,
            window=lim.window.value,
            limit=lim.limit,
            enforcement=lim.enforcement,
            thresholds=list(lim.thresholds),
        )


class ApiRateLimitOut(BaseModel):
    per_second: Number
    burst: int

    @classmethod
    def of(cls, r: ApiRateLimit | None) -> ApiRateLimitOut | None:
        return None if r is None else cls(per_second=r.per_second, burst=r.burst)


class PlanOut(BaseModel):
    id: str
    name: str
    limits: list[LimitOut]
    api_rate_limit: ApiRateLimitOut | None
    currency: str = Field(description="ISO 4217 code of every amount of the plan.")
    base_fee: DecimalText = Field(description="Per billing period, as a decimal string.")
    minimum_commitment: DecimalText | None = Field(description="Per billing period, as a decimal string; or null.")
    charges: list[ChargeOut] = Field(description="Usage prices; every amount a decimal string.")
    late_fee: LateFeeOut | None = Field(default=None, description="The late-fee policy, or null.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Plan) -> PlanOut:
        return cls(
            id=p.id,
            name=p.name,
            limits=[LimitOut.of(lim) for lim in p.limits],
            api_rate_limit=ApiRateLimitOut.of(p.api_rate_limit),
            currency=p.currency,
            base_fee=p.base_fee,
            minimum_commitment=p.minimum_commitment,
            charges=[ChargeOut.of(c) for c in p.charges],
            late_fee=LateFeeOut(**p.late_fee.stored()) if p.late_fee else None,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class TenantLimitsIn(Strict):
    limits: list[LimitIn] = Field(
        max_length=MAX_LIMITS,
        description="The tenant's overrides, replacing any it had. Each replaces the plan's limit for its meter "
        "and window (or adds one). `[]` removes every override.",
    )
    reason: Reason | None = Field(default=None, description="Kept in the audit trail.")

    _unique = field_validator("limits")(_unique_limits)


class EffectiveLimitOut(LimitOut):
    source: Literal["plan", "override"]

    @classmethod
    def of_effective(cls, e: EffectiveLimit) -> EffectiveLimitOut:
        return cls(**LimitOut.of(e.limit).model_dump(), source=e.source)


class TenantLimitsOut(BaseModel):
    tenant: str
    plan: str | None
    overrides: list[LimitOut]
    effective: list[EffectiveLimitOut] = Field(description="The plan's limits with the overrides applied.")
    api_rate_limit: ApiRateLimitOut = Field(description="The tenant's API rate limit (its plan's, or the default).")


# ------------------------------------------------------------------ quotas
class QuotaOut(BaseModel):
    meter: str
    window: WindowName
    limit: Number
    used: Number = Field(description="Usage in the current window: events and consumes alike.")
    remaining: Number
    percent: float = Field(description="used / limit x 100, two decimals.")
    enforcement: Enforcement
    status: Status = Field(description="healthy < 75 % <= caution < 90 % <= warning < 100 % <= critical.")
    resets_at: datetime | None = Field(description="End of the current window in the tenant's zone; null for lifetime.")
    thresholds: list[Number]

    @classmethod
    def of(cls, s: LimitState, tz: Any) -> QuotaOut:
        return cls(
            meter=s.limit.meter,
            window=s.limit.window.value,
            limit=s.limit.limit,
            used=s.used,
            remaining=s.remaining,
            percent=float(s.percent),
            enforcement=s.limit.enforcement,
            status=s.status,
            resets_at=None if s.window.end is None else s.window.end.astimezone(tz),
            thresholds=list(s.limit.thresholds),
        )


class TenantRowOut(TenantOut):
    """A tenant in ``GET /v1/tenants``: with ``include=quotas``, also its quotas now."""

    quotas: list[QuotaOut] | None = Field(
        default=None,
        description="With include=quotas: each effective limit and its usage in the current window, as "
        "GET /v1/quotas?tenant= gives them; absent otherwise.",
    )

    # No return annotation: it would replace the fields' schema in the OpenAPI document.
    @model_serializer(mode="wrap")
    def _without_absent_quotas(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        out = handler(self)
        if isinstance(out, dict) and out.get("quotas") is None:
            out.pop("quotas", None)
        return out


class QuotasOut(BaseModel):
    tenant: str
    timezone: str
    quotas: list[QuotaOut]


# ------------------------------------------------------------------ consume
class ConsumeIn(Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)] | None = Field(
        default=None,
        description="The event id: required when amount > 0. Dedupe is shared with /v1/events: an id seen "
        "before (here or there) is not counted again and gets the original decision.",
    )
    tenant: TenantId | None = Field(
        default=None, description="Implied by a tenant key; required with an admin or ingest key."
    )
    meter: MeterKey
    amount: JsonNumber = Field(
        default=Decimal(1),
        description="Default 1. 0 only checks (allowed while used < limit on every hard limit). Whole for count "
        "meters; at most 1e30.",
    )
    time: Instant | None = Field(
        default=None,
        description="Now, within 5 minutes either way (clock skew); default: now. Consume decides usage happening "
        "now, against the current windows; record back-dated usage through `POST /v1/events`.",
    )


class ConsumeLimitOut(BaseModel):
    meter: str
    window: WindowName
    limit: float | int
    used: float | int = Field(description="After this amount when allowed; as found when denied.")
    remaining: float | int
    resets_at: datetime | None = Field(description="Window end in the tenant's zone; null for lifetime.")
    enforcement: Enforcement
    exceeded: bool = Field(description="Denied: this hard limit is the reason. Allowed: this soft limit is overshot.")


class ConsumeOut(BaseModel):
    """The decision. Also the body of a 429 (not a problem document)."""

    allowed: bool
    reason: Literal["quota_exceeded", "rate_limited"] | None = None
    replayed: bool = Field(default=False, description="The id was seen before; this is its original decision.")
    limits: list[ConsumeLimitOut]


# ------------------------------------------------------------------ audit
class AuditOut(BaseModel):
    id: str
    tenant: str | None = None
    plan: str | None = None
    at: datetime
    actor: str = Field(description="The API key id that made the change (`system` for the default catalog).")
    action: Literal[
        "plan.put",
        "tenant.create",
        "tenant.plan",
        "tenant.limits",
        "tenant.discounts",
        "invoice.issue",
        "invoice.pay",
        "invoice.void",
        "invoice.overdue",
        "invoice.late_fee",
    ] = Field(description="What changed; `invoice.*`: a move of one of the tenant's invoices (`before`/`after`).")
    before: Any
    after: Any
    reason: str | None

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        return cls(
            id=e.id,
            tenant=e.subject_id if e.kind == "tenant" else None,
            plan=e.subject_id if e.kind == "plan" else None,
            at=e.at,
            actor=e.actor,
            action=e.action,
            before=e.before,
            after=e.after,
            reason=e.reason,
        )


RATELIMIT_HEADERS_DOC = {
    "RateLimit-Policy": {
        "description": 'One member per limit: `"<meter>.<window>";q=<limit>;w=<window seconds>` (no `w` for lifetime).',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'One member per limit: `"<meter>.<window>";r=<remaining>;t=<seconds to reset>`.',
        "schema": {"type": "string"},
    },
}
RETRY_AFTER_DOC = {"Retry-After": {"description": "Seconds until a retry can succeed.", "schema": {"type": "integer"}}}


def consume_responses() -> dict[int, dict]:
    return {
        200: {
            "description": "Allowed (and recorded, when amount > 0).",
            "headers": RATELIMIT_HEADERS_DOC,
            "content": {"application/json": {"model": ConsumeOut}},
        },
        429: {
            "description": "Denied: `reason` is `quota_exceeded` (a hard limit) or `rate_limited` (the API rate "
            "limit). A decision, not a problem document.",
            "headers": {**RATELIMIT_HEADERS_DOC, **RETRY_AFTER_DOC},
            "content": {"application/json": {"model": ConsumeOut}},
        },
    }
