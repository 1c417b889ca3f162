"""A realistic issued invoice for the browser test and the screenshot in docs/, built by the
code the invoice service runs (``domain.invoice_build``: ``compute`` prices every charge with
``pricing.price`` and adds it up with ``invoice_totals.assemble``; ``document`` is the invoice
JSON through ``invoice_totals.as_json``; ``bill_to_lines`` the bill-to block), so every
amount on the page is computed, none typed in.

The invoice: USD, a base fee, a per_unit charge, the Stripe graduated vector (tiers 1-5 at 7,
6-10 at 6.5, 11+ at 6; 20 units = 127.50) with its tier breakdown, per-model token charges
(``{"model": "gpt-4o"}``, ``{"model": "gpt-4o-mini"}``), a discount, VAT at 20 %, a tenant in
Europe/Paris (the period is RFC 3339 with +01:00) whose name is HTML.

``python -m tests.invoice_samples --screenshot docs/invoice.png`` renders it in headless
Chromium (``tests/chromium.py``); ``--html PATH`` writes the page itself.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tollgate.adapters.invoice_html import render_invoice_html
from tollgate.domain.countries import Address
from tollgate.domain.discounts import AppliesTo, Discount, DiscountType
from tollgate.domain.invoice_build import Header, PeriodUsage, bill_to_lines, compute, document
from tollgate.domain.invoices import invoice_id
from tollgate.domain.meters import Aggregation
from tollgate.domain.plans import Plan
from tollgate.domain.pricing import Charge, Model, Tier
from tollgate.domain.records import Meter, Tenant
from tollgate.domain.tax import TaxDecision, TaxRate

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Paris")
PERIOD_START, PERIOD_END = datetime(2026, 11, 1, tzinfo=ZONE), datetime(2026, 12, 1, tzinfo=ZONE)
ISSUED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=ZONE)
NET_DAYS = 30
NUMBER = "TG-000042"
TENANT_NAME = "<script>alert(1)</script> & Co"
SELLER = ["Tollgate SAS", "8 Rue du Faubourg Poissonnière", "75010 Paris", "FR", "VAT FR32123456789"]
STRIPE_TIERS = (Tier(D(5), D(7)), Tier(D(10), D("6.5")), Tier(None, D(6)))

METERS = {
    "api_calls": Meter(key="api_calls", name="API calls", aggregation=Aggregation.COUNT, created_at=T0),
    "render_minutes": Meter(key="render_minutes", name="Render minutes", aggregation=Aggregation.SUM, created_at=T0),
    "tokens": Meter(key="tokens", name="Tokens", aggregation=Aggregation.SUM, created_at=T0, group_by=["model"]),
}
PLAN = Plan(
    id="scale",
    name="Scale",
    limits=(),
    api_rate_limit=None,
    created_at=T0,
    updated_at=T0,
    currency="USD",
    base_fee=D(49),
    charges=(
        Charge("api_calls", Model.PER_UNIT, unit_amount=D("0.002"), free_units=D(10_000)),
        Charge("render_minutes", Model.GRADUATED, tiers=STRIPE_TIERS),
        Charge("tokens", Model.PER_UNIT, unit_amount=D("0.00001"), filter=("model", "gpt-4o")),
        Charge("tokens", Model.PER_UNIT, unit_amount=D("0.0000006"), filter=("model", "gpt-4o-mini")),
    ),
)
USAGE = PeriodUsage(
    totals={"api_calls": D(58_250), "render_minutes": D(20), "tokens": D(7_400_000)},
    groups={("tokens", "model"): {"gpt-4o": D(2_400_000), "gpt-4o-mini": D(5_000_000)}},
)
DISCOUNTS = (
    Discount(
        id="tokens-launch",
        name="Launch offer: 25 % off tokens",
        type=DiscountType.PERCENTAGE,
        priority=1,
        percent=D(25),
        applies_to=AppliesTo(meters=("tokens",)),
    ),
)
TAX = TaxDecision(rates=(TaxRate(id="vat-fr", name="VAT FR", percent=D(20), country="FR"),))
TENANT = Tenant(
    id="acme",
    name=TENANT_NAME,
    created_at=T0,
    updated_at=T0,
    plan="scale",
    billing_email="billing@acme.example",
    currency="USD",
    timezone="Europe/Paris",
    billing_address=Address(country="FR", line1="12 Rue de Rivoli", city="Paris", postal_code="75004"),
    tax_id="FR40303265045",
)


@dataclass(frozen=True)
class Sample:
    doc: dict[str, Any]  # the invoice JSON
    seller: list[str]
    bill_to: list[str]
    net_days: int

    def html(self) -> str:
        return render_invoice_html(self.doc, seller=self.seller, bill_to=self.bill_to, net_days=self.net_days)


def sample_invoice() -> Sample:
    """The issued invoice TG-000042 for November 2026 (see the module's docstring)."""
    totals = compute(
        PLAN, METERS, USAGE, discounts=DISCOUNTS, tax=TAX, period_start=PERIOD_START, period_end=PERIOD_END
    )
    header = Header(
        invoice_id(TENANT.id, "2026-11"),
        "issued",
        PERIOD_START,
        PERIOD_END,
        NUMBER,
        ISSUED_AT,
        ISSUED_AT + timedelta(days=NET_DAYS),
    )
    doc = document(header, TENANT, PLAN, totals, TAX)
    return Sample(doc, SELLER, bill_to_lines(doc), NET_DAYS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.invoice_samples", description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, help="write the sample invoice's HTML here")
    parser.add_argument("--screenshot", type=Path, help="write an A4-sized PNG of it here (headless Chromium)")
    args = parser.parse_args(argv)
    if not (args.html or args.screenshot):
        parser.error("give --html and/or --screenshot")
    html = sample_invoice().html()
    if args.html:
        args.html.write_text(html, encoding="utf-8")
    if args.screenshot:
        from tests.chromium import A4_WINDOW, find_chromium, screenshot

        binary = find_chromium()
        if binary is None:
            print("chromium not found (apt-get install chromium, or set CHROMIUM)", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory(prefix="tollgate-invoice-") as tmp:
            page = Path(tmp) / "invoice.html"
            page.write_text(html, encoding="utf-8")
            args.screenshot.write_bytes(screenshot(binary, page, A4_WINDOW))
    return 0


if __name__ == "__main__":
    sys.exit(main())
