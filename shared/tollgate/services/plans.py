"""Plans: create or replace (audited), read, list, and the default catalog."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources
from typing import Any

from tollgate.domain.audit import SYSTEM_ACTOR, Action, AuditEntry, plan_subject
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.plans import (
    DEFAULT_CURRENCY,
    ApiRateLimit,
    LateFee,
    Limit,
    Plan,
    price_errors,
    sort_limits,
    uncounted_windows,
)
from tollgate.domain.pricing import ZERO, Charge, parse_charges

from .catalog import Catalog
from .ports import Clock, PlanRepository


def default_catalog() -> list[dict[str, Any]]:
    """The plans of ``tollgate/data/default_plans.json`` (shipped in the layer)."""
    text = resources.files("tollgate.data").joinpath("default_plans.json").read_text(encoding="utf-8")
    plans: list[dict[str, Any]] = json.loads(text)["plans"]
    return plans


def check_windows(limits: list[Limit], catalog: Catalog) -> None:
    """422 for a limit on a window its meter is not counted in (a unique_count meter by the
    minute or hour)."""
    errors = uncounted_windows(limits, lambda key: m.aggregation if (m := catalog.meter(key)) else None)
    if errors:
        raise ValidationFailed("a unique_count meter is counted by day, month and lifetime only", errors)


def referenced_meters(raw: Any, catalog: Catalog) -> dict[str, tuple[Aggregation, Sequence[str]]]:
    """The aggregation and group_by of every existing meter the raw charges name (a charge on
    a meter that does not exist is left out: ``parse_charges`` names it)."""
    if not isinstance(raw, list):
        return {}
    keys = {c["meter"] for c in raw if isinstance(c, dict) and isinstance(c.get("meter"), str)}
    found = {key: catalog.meter(key) for key in keys}
    return {key: (m.aggregation, tuple(m.group_by)) for key, m in found.items() if m is not None}


class PlanService:
    def __init__(self, plans: PlanRepository, catalog: Catalog, clock: Clock) -> None:
        self._plans, self._catalog, self._clock = plans, catalog, clock

    def put_plan(
        self,
        plan_id: str,
        name: str,
        limits: list[Limit],
        api_rate_limit: ApiRateLimit | None,
        actor: str,
        reason: str | None = None,
        *,
        currency: str = DEFAULT_CURRENCY,
        base_fee: Decimal = ZERO,
        minimum_commitment: Decimal | None = None,
        charges: Any = None,
        late_fee: LateFee | None = None,
    ) -> tuple[Plan, bool]:
        """Create or replace a plan, with its audit entry. Returns (plan, created).

        ``charges`` is the request's list of charges as sent (``pricing.parse_charges``
        validates it against the meters it names). A plan's currency may change while tenants
        use it: no index finds a plan's tenants, so that is not checked here."""
        check_windows(limits, self._catalog)
        errors = price_errors(currency, base_fee, minimum_commitment) + (late_fee.errors() if late_fee else [])
        parsed = self._charges(charges, errors)
        previous = self._plans.get(plan_id, consistent=True)
        at = self._clock.now()
        plan = Plan(
            id=plan_id,
            name=name,
            limits=tuple(sort_limits(limits)),
            api_rate_limit=api_rate_limit,
            created_at=previous.created_at if previous else at,
            updated_at=at,
            currency=currency,
            base_fee=base_fee,
            minimum_commitment=minimum_commitment,
            charges=parsed,
            late_fee=late_fee,
        )
        entry = AuditEntry(
            subject=plan_subject(plan_id),
            at=at,
            actor=actor,
            action=Action.PLAN_PUT,
            before=previous.as_dict() if previous else None,
            after=plan.as_dict(),
            reason=reason,
        )
        self._plans.put(plan, previous, entry)
        self._catalog.invalidate_plan(plan_id)
        return plan, previous is None

    def _charges(self, raw: Any, errors: list[FieldError]) -> tuple[Charge, ...]:
        """The parsed charges; one 422 naming every bad field, prices' and charges' alike."""
        parsed: tuple[Charge, ...] = ()
        try:
            parsed = parse_charges(raw, referenced_meters(raw, self._catalog))
        except ValidationFailed as exc:
            errors = [*errors, *exc.errors]
        if errors:
            raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors)
        return parsed

    def get_plan(self, plan_id: str) -> Plan:
        plan = self._plans.get(plan_id)
        if plan is None:
            raise NotFound(f"plan {plan_id!r} not found")
        return plan

    def list_plans(self, limit: int, cursor: str | None) -> tuple[list[Plan], str | None]:
        return self._plans.list(limit, cursor)

    def seed_default_catalog(self) -> list[str]:
        """Create each default plan that does not exist yet (an operator's plan of the same id
        is never overwritten). Idempotent; returns the ids it created."""
        created = []
        for raw in default_catalog():
            at = self._clock.now()
            plan = Plan(
                id=raw["id"],
                name=raw["name"],
                limits=tuple(sort_limits(Limit.from_dict(d) for d in raw["limits"])),
                api_rate_limit=ApiRateLimit.from_dict(raw.get("api_rate_limit")),
                created_at=at,
                updated_at=at,
            )
            entry = AuditEntry(
                subject=plan_subject(plan.id),
                at=at,
                actor=SYSTEM_ACTOR,
                action=Action.PLAN_PUT,
                before=None,
                after=plan.as_dict(),
                reason="default catalog",
            )
            if self._plans.create_if_absent(plan, entry):
                created.append(plan.id)
                self._catalog.invalidate_plan(plan.id)
        return created
