"""``ports.BillingCatalogStore`` in memory (the adapter: ``adapters.billing_catalog``)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from tollgate.domain.audit import AuditEntry
from tollgate.domain.discounts import Discount
from tollgate.domain.errors import Conflict, FieldError, ValidationFailed
from tollgate.domain.tax import TaxRate

from .repos import FakeAuditLog


class FakeBillingCatalog:
    def __init__(self, audit: FakeAuditLog) -> None:
        self.audit = audit
        self._lock = threading.Lock()
        self.rates: dict[str, TaxRate] = {}
        self.discount_items: dict[str, Discount] = {}
        self.assignments: dict[str, tuple[tuple[str, ...], datetime]] = {}

    def put_tax_rate(self, rate: TaxRate) -> TaxRate:
        with self._lock:
            old = self.rates.get(rate.id)
            stored = replace(rate, created_at=old.created_at if old else rate.created_at)
            self.rates[rate.id] = stored
            return stored

    def tax_rates(self) -> list[TaxRate]:
        with self._lock:
            return [self.rates[k] for k in sorted(self.rates)]

    def put_discount(self, discount: Discount) -> Discount:
        with self._lock:
            old = self.discount_items.get(discount.id)
            stored = replace(
                discount,
                created_at=old.created_at if old else discount.created_at,
                assigned_tenants=old.assigned_tenants if old else 0,
            )
            self.discount_items[discount.id] = stored
            return stored

    def get_discount(self, discount_id: str, consistent: bool = False) -> Discount | None:
        with self._lock:
            return self.discount_items.get(discount_id)

    def discounts(self) -> list[Discount]:
        with self._lock:
            return [self.discount_items[k] for k in sorted(self.discount_items)]

    def tenant_discounts(self, tenant_id: str, consistent: bool = False) -> tuple[tuple[str, ...], datetime | None]:
        with self._lock:
            found = self.assignments.get(tenant_id)
            return found if found is not None else ((), None)

    def set_tenant_discounts(
        self,
        tenant_id: str,
        ids: tuple[str, ...],
        previous: tuple[str, ...],
        at: datetime,
        previous_at: datetime | None,
        entry: AuditEntry,
    ) -> None:
        with self._lock:
            stored = self.assignments.get(tenant_id)
            if (stored[1] if stored else None) != previous_at:
                raise Conflict(f"the discounts of tenant {tenant_id!r} changed; read them again and retry")
            added, removed = set(ids) - set(previous), set(previous) - set(ids)
            for i, d in enumerate(ids):
                if d in added and d not in self.discount_items:
                    raise ValidationFailed("no such discount", [FieldError(f"discount_ids[{i}]", "no such discount")])
            self.audit._check(entry, f"the discounts of tenant {tenant_id!r}")
            for d in added | removed:
                if d in self.discount_items:
                    old = self.discount_items[d]
                    step = 1 if d in added else -1
                    self.discount_items[d] = replace(old, assigned_tenants=old.assigned_tenants + step)
            self.assignments[tenant_id] = (ids, at)
            self.audit._append(entry)
