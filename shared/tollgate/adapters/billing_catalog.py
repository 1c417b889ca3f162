"""``services.ports.BillingCatalogStore`` on the billing catalog table (pynamodb); the item
layout is on ``models.BillingCatalogModel``.

A discount's PUT updates its definition in place (``created_at`` if absent), so it never
touches ``assigned``. A tenant's assignment, the ``assigned`` count of every discount added or
removed, and the audit entry are one transaction, conditional on the assignment read before:
the counts never drift.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from tollgate.domain.audit import AuditEntry
from tollgate.domain.discounts import MAX_TENANT_DISCOUNTS, Discount, discount_as_dict, discount_from_dict
from tollgate.domain.errors import Conflict, FieldError, ValidationFailed
from tollgate.domain.tax import TaxRate

from .entitlements import _audit_model, _is_conditional
from .models import AuditModel, BillingCatalogModel

M = BillingCatalogModel
TAX, DISCOUNT, ASSIGNMENT = "TAX", "DISCOUNT", "DISCOUNTS"
MAX_TRANSACTION_ITEMS = 100
assert 2 * MAX_TENANT_DISCOUNTS + 2 <= MAX_TRANSACTION_ITEMS  # every discount swapped, the tenant, the audit


def _tax(m: M) -> TaxRate:
    b = m.body
    return TaxRate(b["id"], b["name"], Decimal(b["percent"]), b["country"], b.get("region"), m.created_at, m.updated_at)


def _discount(m: M) -> Discount:
    return discount_from_dict(m.body, m.created_at, m.updated_at, int(m.assigned or 0))


def _connection() -> Connection:
    return M._get_connection().connection  # noqa: SLF001 - pynamodb has no public accessor


class BillingCatalogRepo:
    def put_tax_rate(self, rate: TaxRate) -> TaxRate:
        item = M(TAX, f"TAX#{rate.id}")
        item.update(
            actions=[
                M.body.set(rate.as_dict()),
                M.updated_at.set(rate.updated_at),
                M.created_at.set(M.created_at | rate.created_at),
            ]
        )
        return _tax(item)

    def tax_rates(self) -> list[TaxRate]:
        return [_tax(m) for m in M.query(TAX, M.sk.startswith("TAX#"))]

    def put_discount(self, discount: Discount) -> Discount:
        item = M(DISCOUNT, f"DISCOUNT#{discount.id}")
        item.update(
            actions=[
                M.body.set(discount_as_dict(discount)),
                M.updated_at.set(discount.updated_at),
                M.created_at.set(M.created_at | discount.created_at),
            ]
        )
        return _discount(item)

    def get_discount(self, discount_id: str, consistent: bool = False) -> Discount | None:
        try:
            return _discount(M.get(DISCOUNT, f"DISCOUNT#{discount_id}", consistent_read=consistent))
        except M.DoesNotExist:
            return None

    def discounts(self) -> list[Discount]:
        return [_discount(m) for m in M.query(DISCOUNT, M.sk.startswith("DISCOUNT#"))]

    def tenant_discounts(self, tenant_id: str, consistent: bool = False) -> tuple[tuple[str, ...], datetime | None]:
        try:
            m = M.get(f"TENANT#{tenant_id}", ASSIGNMENT, consistent_read=consistent)
        except M.DoesNotExist:
            return (), None
        return tuple(m.ids or ()), m.updated_at

    def set_tenant_discounts(
        self,
        tenant_id: str,
        ids: tuple[str, ...],
        previous: tuple[str, ...],
        at: datetime,
        previous_at: datetime | None,
        entry: AuditEntry,
    ) -> None:
        added = [d for d in ids if d not in previous]
        removed = [d for d in previous if d not in ids]
        assignment = M(f"TENANT#{tenant_id}", ASSIGNMENT, ids=list(ids), updated_at=at)
        condition = M.pk.does_not_exist() if previous_at is None else M.updated_at == previous_at
        try:
            with TransactWrite(connection=_connection()) as tx:
                tx.save(assignment, condition=condition)
                for d in added:
                    tx.update(M(DISCOUNT, f"DISCOUNT#{d}"), actions=[M.assigned.add(1)], condition=M.pk.exists())
                for d in removed:  # discounts are never deleted
                    tx.update(M(DISCOUNT, f"DISCOUNT#{d}"), actions=[M.assigned.add(-1)], condition=M.pk.exists())
                tx.save(_audit_model(entry), condition=AuditModel.subject.does_not_exist())
        except TransactWriteError as exc:
            if not _is_conditional(exc):
                raise
            reasons = getattr(exc, "cancellation_reasons", None) or []
            codes = [getattr(r, "code", None) if r is not None else None for r in reasons]
            gone = [
                FieldError(f"discount_ids[{ids.index(d)}]", "no such discount")
                for d, code in zip(added, codes[1 : 1 + len(added)], strict=False)
                if code == "ConditionalCheckFailed"
            ]
            if gone:
                raise ValidationFailed("unknown discounts", gone) from None
            raise Conflict(f"the discounts of tenant {tenant_id!r} changed; read them again and retry") from None
