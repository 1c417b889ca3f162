"""The billing catalog: tax rates, discounts, and which tenants have which discounts.

Definitions only; an invoice applies them with ``tollgate.domain.tax.applicable_rates`` and
``tollgate.domain.discounts.apply_discounts`` on what ``tax_rates`` and ``discounts_for`` give.
A discount assigned to no tenant applies to every eligible tenant; once assigned to any
tenant, only to those (docs/billing.md).
"""

from __future__ import annotations

from dataclasses import replace

from tollgate.domain.audit import Action, AuditEntry, tenant_subject
from tollgate.domain.discounts import MAX_DISCOUNTS, Discount, check_discount
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed
from tollgate.domain.tax import MAX_TAX_RATES, TaxRate

from .ports import BillingCatalogStore, Clock, TenantRepository


class BillingCatalogService:
    def __init__(self, store: BillingCatalogStore, tenants: TenantRepository, clock: Clock) -> None:
        self._store, self._tenants, self._clock = store, tenants, clock

    # -------------------------------------------------------------- tax rates
    def put_tax_rate(self, rate: TaxRate) -> TaxRate:
        existing = {r.id for r in self._store.tax_rates()}
        if rate.id not in existing and len(existing) >= MAX_TAX_RATES:
            raise ValidationFailed(f"at most {MAX_TAX_RATES} tax rates", [FieldError("id", "too many tax rates")])
        at = self._clock.now()
        return self._store.put_tax_rate(replace(rate, created_at=at, updated_at=at))

    def tax_rates(self) -> list[TaxRate]:
        return self._store.tax_rates()

    # -------------------------------------------------------------- discounts
    def put_discount(self, discount: Discount) -> Discount:
        errors = check_discount(discount)
        if errors:
            raise ValidationFailed("the discount is not valid", errors)
        if self._store.get_discount(discount.id, consistent=True) is None and len(self._store.discounts()) >= (
            MAX_DISCOUNTS
        ):
            raise ValidationFailed(f"at most {MAX_DISCOUNTS} discounts", [FieldError("id", "too many discounts")])
        at = self._clock.now()
        return self._store.put_discount(replace(discount, created_at=at, updated_at=at))

    def get_discount(self, discount_id: str) -> Discount:
        found = self._store.get_discount(discount_id)
        if found is None:
            raise NotFound(f"discount {discount_id!r} not found")
        return found

    def list_discounts(self) -> list[Discount]:
        return self._store.discounts()

    # -------------------------------------------------------------- tenants' discounts
    def _require_tenant(self, tenant_id: str) -> None:
        if self._tenants.get(tenant_id) is None:
            raise NotFound(f"tenant {tenant_id!r} not found")

    def tenant_discounts(self, tenant_id: str) -> list[Discount]:
        """The discounts assigned to the tenant, in the order given."""
        self._require_tenant(tenant_id)
        ids, _ = self._store.tenant_discounts(tenant_id, consistent=True)
        found = [self._store.get_discount(i, consistent=True) for i in ids]
        return [d for d in found if d is not None]

    def set_tenant_discounts(self, tenant_id: str, ids: list[str], actor: str, reason: str) -> list[Discount]:
        """Replace the tenant's assigned discounts, with an audit entry. Unknown ids: 422
        naming ``discount_ids[i]``."""
        self._require_tenant(tenant_id)
        unique = tuple(dict.fromkeys(ids))
        missing = [
            FieldError(f"discount_ids[{i}]", "no such discount")
            for i, d in enumerate(ids)
            if self._store.get_discount(d, consistent=True) is None
        ]
        if missing:
            raise ValidationFailed("unknown discounts", missing)
        previous, previous_at = self._store.tenant_discounts(tenant_id, consistent=True)
        at = self._clock.now()
        entry = AuditEntry(
            subject=tenant_subject(tenant_id),
            at=at,
            actor=actor,
            action=Action.TENANT_DISCOUNTS,
            before=list(previous),
            after=list(unique),
            reason=reason,
        )
        self._store.set_tenant_discounts(tenant_id, unique, previous, at, previous_at, entry)
        return self.tenant_discounts(tenant_id)

    def discounts_for(self, tenant_id: str) -> list[Discount]:
        """What an invoice of the tenant considers: the discounts assigned to it and those
        assigned to no tenant (their conditions are checked by ``apply_discounts``)."""
        assigned, _ = self._store.tenant_discounts(tenant_id)
        mine = set(assigned)
        return [d for d in self._store.discounts() if d.applies_to_tenant(d.id in mine)]
