"""Tax rates and which of them an invoice applies. Pure; no AWS.

``applicable_rates`` decides, for one tenant:

1. tax exempt: no tax (note "Tax exempt");
2. reverse charge: the seller's and the tenant's countries both EU members and different, and
   the tenant has a ``tax_id``: no tax, note "Reverse charge";
3. otherwise the most specific rates matching the billing address: those naming its country
   and region (regions compare case-insensitively, spaces trimmed) over those naming its
   country alone. Several rates at the same level all apply (e.g. two levies of one region),
   ordered by id. No billing address, or no match: no tax.

Amounts here are unrounded: the invoice computes each rate on its rounded subtotal after
discounts and rounds the tax once (``tollgate.domain.pricing.round_money``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .countries import Address, is_eu

REVERSE_CHARGE = "Reverse charge"
TAX_EXEMPT = "Tax exempt"
MAX_PERCENT = Decimal(100)
MAX_TAX_RATES = 1000
"""``GET /v1/tax-rates`` lists them all in one answer; ``PUT`` refuses more."""


@dataclass(frozen=True)
class TaxRate:
    id: str
    name: str
    percent: Decimal  # 0 to 100
    country: str  # ISO 3166-1 alpha-2
    region: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "percent": str(self.percent),
            "country": self.country,
            "region": self.region,
        }


@dataclass(frozen=True)
class TaxDecision:
    rates: tuple[TaxRate, ...] = ()
    """The rates to apply (empty: no tax)."""
    reverse_charge: bool = False
    note: str | None = None
    """What the invoice says: "Reverse charge", "Tax exempt", or None."""

    def named_rates(self) -> list[tuple[str, Decimal]]:
        """``(name, percent)`` per rate: what ``invoice_totals.assemble`` takes as ``tax_rates``
        (it computes and rounds each rate's amount, once)."""
        return [(r.name, r.percent) for r in self.rates]


def _region(value: str | None) -> str | None:
    text = (value or "").strip().casefold()
    return text or None


def applicable_rates(
    rates: Iterable[TaxRate],
    address: Address | None,
    tax_id: str | None,
    tax_exempt: bool,
    seller_country: str,
) -> TaxDecision:
    if tax_exempt:
        return TaxDecision(note=TAX_EXEMPT)
    if address is None:
        return TaxDecision()
    country = address.country
    if is_eu(seller_country) and is_eu(country) and seller_country != country and (tax_id or "").strip():
        return TaxDecision(reverse_charge=True, note=REVERSE_CHARGE)
    in_country = [r for r in rates if r.country == country]
    region = _region(address.region)
    regional = [r for r in in_country if region is not None and _region(r.region) == region]
    chosen = regional or [r for r in in_country if _region(r.region) is None]
    return TaxDecision(rates=tuple(sorted(chosen, key=lambda r: r.id)))
