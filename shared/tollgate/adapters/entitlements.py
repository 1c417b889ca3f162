"""Plans, tenant limit overrides and the audit trail (pynamodb).

Every change and its audit entry are written in one transaction, so there is no change
without its entry, and each write is conditional on the state the entry's ``before`` was read
from: two concurrent changes cannot both claim the same ``before`` (the loser gets 409).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from tollgate.domain.audit import AuditEntry
from tollgate.domain.errors import Conflict
from tollgate.domain.plans import DEFAULT_CURRENCY, ApiRateLimit, LateFee, Limit, Plan
from tollgate.domain.pricing import ZERO, Charge
from tollgate.domain.records import Tenant

from .models import AuditModel, LimitOverridesModel, PlanModel, TenantModel
from .repos import TenantRepo, _tenant_model, decode_cursor, encode_cursor, fields_of, get_item, scan_page


def _connection() -> Connection:
    """The plans model's connection (one botocore session per model class, not per write;
    tests rebind models to fresh tables by resetting it)."""
    return PlanModel._get_connection().connection  # noqa: SLF001 - pynamodb has no public accessor


def _conflict(what: str) -> Conflict:
    return Conflict(f"{what} changed while this request was applied; read it again and retry")


def _is_conditional(exc: Exception) -> bool:
    reasons = getattr(exc, "cancellation_reasons", None) or []
    if any(r is not None and getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons):
        return True
    return getattr(exc, "cause_response_code", None) in ("ConditionalCheckFailedException",)


_AUDIT = ("subject", "at", "actor", "action", "before", "after", "reason")  # and the id, in the sort key


def _audit_model(e: AuditEntry) -> AuditModel:
    return AuditModel(**fields_of(e, (*_AUDIT, "sk")))


def _audit(m: AuditModel) -> AuditEntry:
    return AuditEntry(**fields_of(m, (*_AUDIT, "id"), id=m.sk.rsplit("#", 1)[1]))


# ------------------------------------------------------------------ plans
_PLAN = ("id", "name", "limits", "api_rate_limit", "created_at", "updated_at")


def _plan(m: PlanModel) -> Plan:
    return Plan(
        **fields_of(
            m,
            _PLAN,
            limits=tuple(Limit.from_dict(d) for d in m.limits or []),
            api_rate_limit=ApiRateLimit.from_dict(m.api_rate_limit),
        ),
        currency=m.currency or DEFAULT_CURRENCY,
        base_fee=Decimal(m.base_fee) if m.base_fee is not None else ZERO,
        minimum_commitment=None if m.minimum_commitment is None else Decimal(m.minimum_commitment),
        charges=tuple(Charge.from_stored(d) for d in m.charges or []),
        late_fee=LateFee.from_stored(m.late_fee),
    )


def _plan_model(p: Plan) -> PlanModel:
    return PlanModel(
        **fields_of(
            p,
            _PLAN,
            limits=[lim.as_dict() for lim in p.limits],
            api_rate_limit=p.api_rate_limit.as_dict() if p.api_rate_limit else None,
        ),
        **p.prices_stored(),
    )


class PlanRepo:
    def get(self, plan_id: str, consistent: bool = False) -> Plan | None:
        return get_item(PlanModel, plan_id, _plan, consistent)

    def list(self, limit: int, cursor: str | None) -> tuple[list[Plan], str | None]:
        return scan_page(PlanModel, limit, cursor, _plan)

    def put(self, plan: Plan, previous: Plan | None, entry: AuditEntry) -> None:
        """Create or replace, with its audit entry; conditional on ``previous`` still holding."""
        condition = PlanModel.id.does_not_exist() if previous is None else PlanModel.updated_at == previous.updated_at
        write_audited(_plan_model(plan), condition, entry, f"plan {plan.id!r}")

    def create_if_absent(self, plan: Plan, entry: AuditEntry) -> bool:
        """For seeding: False (and nothing written) when the plan exists already."""
        try:
            write_audited(_plan_model(plan), PlanModel.id.does_not_exist(), entry, f"plan {plan.id!r}")
        except Conflict:
            return False
        return True


def write_audited(model: Any, condition: Any, entry: AuditEntry, what: str) -> None:
    """Write ``model`` under ``condition`` together with its audit entry, in one transaction."""
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(model, condition=condition)
            tx.save(_audit_model(entry), condition=AuditModel.subject.does_not_exist())
    except (TransactWriteError, PutError) as exc:
        if _is_conditional(exc):
            raise _conflict(what) from None
        raise


# ------------------------------------------------------------------ overrides
class OverridesRepo:
    def get(self, tenant_id: str, consistent: bool = False) -> tuple[tuple[Limit, ...], datetime | None]:
        """The tenant's overrides and when they last changed (``((), None)`` when none)."""
        try:
            m = LimitOverridesModel.get(tenant_id, consistent_read=consistent)
        except LimitOverridesModel.DoesNotExist:
            return (), None
        return tuple(Limit.from_dict(d) for d in m.limits or []), m.updated_at

    def put(
        self, tenant_id: str, limits: tuple[Limit, ...], at: datetime, previous_at: datetime | None, entry: AuditEntry
    ) -> None:
        model = LimitOverridesModel(tenant_id=tenant_id, limits=[lim.as_dict() for lim in limits], updated_at=at)
        condition = (
            LimitOverridesModel.tenant_id.does_not_exist()
            if previous_at is None
            else LimitOverridesModel.updated_at == previous_at
        )
        write_audited(model, condition, entry, f"the limits of tenant {tenant_id!r}")


# ------------------------------------------------------------------ tenants (plan changes)
class AuditedTenantRepo(TenantRepo):
    """``services.ports.TenantRepository``: the tenant table, and plan changes written with
    their audit entry in one transaction."""

    def create_audited(self, tenant: Tenant, entry: AuditEntry) -> None:
        try:
            write_audited(_tenant_model(tenant), TenantModel.id.does_not_exist(), entry, f"tenant {tenant.id!r}")
        except Conflict:
            raise Conflict(f"tenant {tenant.id!r} already exists") from None

    def replace_audited(self, tenant: Tenant, previous: Tenant, entry: AuditEntry) -> None:
        condition = TenantModel.updated_at == previous.updated_at
        write_audited(_tenant_model(tenant), condition, entry, f"tenant {tenant.id!r}")


class AuditRepo:
    def list(self, subject: str, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
        """Newest first. Raises ValueError for a cursor this API did not issue for ``subject``."""
        start = decode_cursor(cursor, AuditModel)
        if start is not None and start["subject"]["S"] != subject:
            raise ValueError("the cursor belongs to another query")
        result = AuditModel.query(subject, scan_index_forward=False, limit=limit, last_evaluated_key=start)
        items = [_audit(m) for m in result]
        return items, encode_cursor(result.last_evaluated_key)
