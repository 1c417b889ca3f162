"""The HTML invoice (tollgate.adapters.invoice_html): what it says, escaped, with no network."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

from tollgate.adapters.invoice_html import grouped, render_invoice_html
from tollgate.domain.invoice_totals import Draft, as_json, assemble
from tollgate.domain.pricing import Charge, Model, Tier, money_text, price

D = Decimal


def invoice() -> dict:
    tiers = (Tier(D(5), D(7)), Tier(D(10), D("6.5")), Tier(None, D(6)))
    priced = price(Charge("calls", Model.GRADUATED, tiers=tiers), D(25))
    details = {
        "meter": "calls",
        "quantity": "25",
        "tiers": [
            {
                "tier": p.tier,
                "quantity": f"{p.quantity:f}",
                "unit_amount": f"{p.unit_amount:f}",
                "flat_amount": "0",
                "amount": money_text(p.amount, "EUR"),
            }
            for p in priced.tiers
        ],
    }
    totals = assemble(
        Draft("EUR", base_fee=D(50), charges=(("API calls <b>gpt-4o</b>", priced.amount, details),)),
        discounts=lambda s: [("Launch coupon", D(-10))],
        tax_rates=[("VAT FR", D(20))],
    )
    return {
        "id": "inv_123",
        "number": "TG-000042",
        "tenant_id": "acme",
        "status": "issued",
        "period": {"start": "2026-11-01T00:00:00+01:00", "end": "2026-12-01T00:00:00+01:00"},
        "issued_at": "2026-12-02T09:00:00+01:00",
        "due_at": "2027-01-01T09:00:00+01:00",
        **as_json(totals),
    }


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and re.match(r"https?:", value):
                raise AssertionError(f"a network reference: {value}")

    def handle_data(self, data):
        self.text.append(data)


def test_the_invoice_says_its_number_parties_lines_tiers_discount_tax_total_and_terms():
    doc = invoice()
    html = render_invoice_html(
        doc,
        seller=["Tollgate Ltd", "1 Rue de la Paix", "75002 Paris", "FR", "VAT FR123"],
        bill_to=["Acme <Inc>", "Berlin", "DE"],
        net_days=30,
    )
    parser = _Text()
    parser.feed(html)
    text = " ".join(" ".join(parser.text).split())
    assert (doc["subtotal"], doc["tax_total"], doc["total"]) == (
        "207.50",
        "39.50",
        "237.00",
    )  # (50 + 157.50 - 10) x 1.2
    for expected in (
        "TG-000042",
        "2026-11-01 – 2026-11-30",
        "2026-12-02",
        "2027-01-01",
        "Tollgate Ltd",
        "Acme <Inc>",
        "Base fee",
        "50.00",
        "157.50",
        "Tier 1: 5 × 7",
        "Tier 3: 15 × 6",
        "Launch coupon",
        "-10.00",
        "VAT FR (20 %)",
        "net 30 days",
    ):
        assert expected in text, expected
    assert "<b>" not in html and "&lt;b&gt;gpt-4o&lt;/b&gt;" in html and "Acme &lt;Inc&gt;" in html  # escaped
    assert "<script" not in html and "link" not in parser.tags  # self-contained


def test_a_draft_has_no_number_and_a_reverse_charge_invoice_says_so():
    doc = {
        **invoice(),
        "number": None,
        "status": "draft",
        "issued_at": None,
        "due_at": None,
        "taxes": [],
        "tax_total": "0.00",
        "reverse_charge": True,
    }
    html = render_invoice_html(doc, seller=["S"], bill_to=["B"])
    assert "Invoice (draft)" in html and "Reverse charge" in html


def test_quantities_and_amounts_show_their_digits_grouped_and_a_charge_with_free_units_its_billable_quantity():
    assert [grouped(v) for v in ("2400000", "-1234.50", "0.0000006", "999", "0", None, "n/a")] == [
        "2,400,000",
        "-1,234.50",
        "0.0000006",
        "999",
        "0",
        "",
        "n/a",
    ]
    doc = invoice()
    doc["lines"][1] |= {"quantity": "1250000", "billable_quantity": "1240000"}
    html = render_invoice_html(doc, seller=["S"], bill_to=["B"])
    assert '1,250,000<div class="sub">1,240,000 billable</div>' in html
    assert html.count("billable") == 1  # only where free units made a difference
