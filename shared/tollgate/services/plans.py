"""Plans: create or replace (audited), read, list, and the default catalog."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from tollgate.adapters.entitlements import PlanRepo
from tollgate.adapters.repos import TtlCache
from tollgate.domain.audit import SYSTEM_ACTOR, Action, AuditEntry, plan_subject
from tollgate.domain.errors import NotFound
from tollgate.domain.plans import ApiRateLimit, Limit, Plan, sort_limits

from . import clock

CONFIG_TTL_S = 10.0
"""How long an instance reuses a plan it read (the consume hot path); changes made in this
process are seen at once, other instances see them within this time."""

repo = PlanRepo()
plan_cache = TtlCache[Plan](lambda plan_id: repo.get(plan_id), ttl=CONFIG_TTL_S)


def _invalidate(plan_id: str) -> None:
    from . import ratelimit  # noqa: PLC0415 - ratelimit imports this module

    plan_cache.invalidate(plan_id)
    ratelimit.invalidate()


def put_plan(
    plan_id: str,
    name: str,
    limits: list[Limit],
    api_rate_limit: ApiRateLimit | None,
    actor: str,
    reason: str | None = None,
) -> tuple[Plan, bool]:
    """Create or replace a plan, with its audit entry. Returns (plan, created)."""
    previous = repo.get(plan_id, consistent=True)
    at = clock.now()
    plan = Plan(
        id=plan_id,
        name=name,
        limits=tuple(sort_limits(limits)),
        api_rate_limit=api_rate_limit,
        created_at=previous.created_at if previous else at,
        updated_at=at,
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
    repo.put(plan, previous, entry)
    _invalidate(plan_id)
    return plan, previous is None


def get_plan(plan_id: str) -> Plan:
    plan = repo.get(plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id!r} not found")
    return plan


def find_plan(plan_id: str) -> Plan | None:
    return repo.get(plan_id, consistent=True)


def list_plans(limit: int, cursor: str | None) -> tuple[list[Plan], str | None]:
    return repo.list(limit, cursor)


# ------------------------------------------------------------------ default catalog
def default_catalog() -> list[dict[str, Any]]:
    """The plans of ``tollgate/data/default_plans.json`` (shipped in the layer)."""
    text = resources.files("tollgate.data").joinpath("default_plans.json").read_text(encoding="utf-8")
    return json.loads(text)["plans"]


def seed_default_catalog() -> list[str]:
    """Create each default plan that does not exist yet (an operator's plan of the same id is
    never overwritten). Idempotent; returns the ids it created."""
    created = []
    for raw in default_catalog():
        at = clock.now()
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
        if repo.create_if_absent(plan, entry):
            created.append(plan.id)
            _invalidate(plan.id)
    return created
