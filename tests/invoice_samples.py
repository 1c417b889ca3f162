"""A realistic issued invoice, computed by the real pricing and assembly (nothing hard-coded
but the usage): a base fee, per-model prices of an AI gateway with the remainder, Stripe's
graduated tiers, a discount and French VAT, billed to a tenant whose name holds markup.

``python -m tests.invoice_samples --screenshot docs/invoice.png`` renders it in headless
Chromium (the screenshot in docs/billing.md)."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tollgate.domain.countries import Address
from tollgate.domain.discounts import Discount, DiscountType
from tollgate.domain.invoice_build import Header, PeriodUsage, compute, document
from tollgate.domain.meters import Aggregation
from tollgate.domain.plans import Plan
from tollgate.domain.pricing import Charge, Model, Tier
from tollgate.domain.records import Meter, Tenant
from tollgate.domain.tax import TaxDecision, TaxRate

D = Decimal
PARIS = ZoneInfo("Europe/Paris")
START, END = datetime(2026, 11, 1, tzinfo=PARIS), datetime(2026, 12, 1, tzinfo=PARIS)
ISSUED = datetime(2026, 12, 2, 9, 30, tzinfo=PARIS)
TENANT_NAME = "<script>alert(1)</script> & Co"


def sample_invoice() -> dict[str, Any]:
    t0 = datetime(2026, 1, 1, tzinfo=PARIS)
    charges = (
        Charge("tokens", Model.PER_UNIT, unit_amount=D("0.00001"), filter=("model", "gpt-4o")),
        Charge("tokens", Model.PER_UNIT, unit_amount=D("0.0000006"), filter=("model", "gpt-4o-mini")),
        Charge("tokens", Model.PER_UNIT, unit_amount=D("0.000002")),
        Charge("requests", Model.GRADUATED, tiers=(Tier(D(5), D(7)), Tier(D(10), D("6.5")), Tier(None, D(6)))),
    )
    plan = Plan("scale", "Scale", (), None, t0, t0, currency="EUR", base_fee=D(49), charges=charges)
    meters = {
        "tokens": Meter("tokens", "LLM tokens", Aggregation.SUM, t0, group_by=["model"]),
        "requests": Meter("requests", "Batch jobs", Aggregation.COUNT, t0),
    }
    usage = PeriodUsage(
        {"tokens": D(9_250_000), "requests": D(20)},
        {("tokens", "model"): {"gpt-4o": D(3_100_000), "gpt-4o-mini": D(5_400_000)}},
    )
    discount = Discount(
        id="launch", name="Launch partner, 10 %", type=DiscountType.PERCENTAGE, priority=1, percent=D(10)
    )
    tax = TaxDecision(rates=(TaxRate("fr", "TVA", D(20), "FR"),))
    totals = compute(plan, meters, usage, discounts=[discount], tax=tax, period_start=START, period_end=END)
    tenant = Tenant(
        id="acme",
        name=TENANT_NAME,
        created_at=t0,
        updated_at=t0,
        plan="scale",
        currency="EUR",
        timezone="Europe/Paris",
        billing_address=Address(line1="12 rue de la Paix", city="Paris", postal_code="75002", country="FR"),
        tax_id="FR40303265045",
    )
    due = datetime(2027, 1, 1, 9, 30, tzinfo=PARIS)
    header = Header("in_5f1c2a9d0e7b4c3a8d6e2f10", "issued", START, END, "TG-000042", ISSUED, due)
    return document(header, tenant, plan, totals, tax)


SELLER = ["Tollgate SAS", "8 avenue de l'Opéra", "75001 Paris", "FR", "VAT FR76123456789"]


def render(doc: dict[str, Any]) -> str:
    from tollgate.adapters.invoice_html import render_invoice_html
    from tollgate.domain.invoice_build import bill_to_lines

    return render_invoice_html(doc, seller=SELLER, bill_to=bill_to_lines(doc), net_days=30)


def chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Debian's headless Chromium with the flags this machine's closed network needs."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [
                os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--host-resolver-rules=MAP * ~NOTFOUND",  # any fetch from the network fails
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def screenshot(html: str, out: Path, size: str = "1240,1754") -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "invoice.html"
        page.write_text(html, encoding="utf-8")
        return chromium(f"--screenshot={out.resolve()}", f"--window-size={size}", page.as_uri())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--screenshot", type=Path, required=True)
    args = parser.parse_args()
    result = screenshot(render(sample_invoice()), args.screenshot)
    raise SystemExit(result.returncode)
