"""One invoice from a plan and the period's counters (tollgate.domain.invoice_build): which
counters a plan reads, each charge's quantity (filters and the unfiltered remainder), what is
not invoiced, and the document's shape."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from tollgate.domain.countries import Address
from tollgate.domain.discounts import AppliesTo, Discount, DiscountType
from tollgate.domain.invoice_build import (
    Header,
    PeriodUsage,
    charge_quantities,
    compute,
    document,
    needed,
    nothing_to_bill,
)
from tollgate.domain.meters import Aggregation
from tollgate.domain.plans import Plan
from tollgate.domain.pricing import Charge, Model, Tier
from tollgate.domain.records import Meter, Tenant
from tollgate.domain.tax import TaxDecision, TaxRate

D = Decimal
ZERO = Decimal(0)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
START, END = datetime(2026, 11, 1, tzinfo=PARIS), datetime(2026, 12, 1, tzinfo=PARIS)

TOKENS_GPT = Charge("tokens", Model.PER_UNIT, unit_amount=D("0.00001"), filter=("model", "gpt-4o"))
TOKENS_MINI = Charge("tokens", Model.PER_UNIT, unit_amount=D("0.000001"), filter=("model", "mini"))
TOKENS_REST = Charge("tokens", Model.PER_UNIT, unit_amount=D("0.000002"))
STRIPE_TIERS = (Tier(D(5), D(7)), Tier(D(10), D("6.5")), Tier(None, D(6)))


def plan(*charges: Charge, base_fee: D = ZERO, minimum: D | None = None, currency: str = "USD") -> Plan:
    return Plan(
        id="pro",
        name="Pro",
        limits=(),
        api_rate_limit=None,
        created_at=T0,
        updated_at=T0,
        currency=currency,
        base_fee=base_fee,
        minimum_commitment=minimum,
        charges=tuple(charges),
    )


def meter(key: str, aggregation: Aggregation = Aggregation.SUM) -> Meter:
    return Meter(key=key, name=key.replace("_", " ").title(), aggregation=aggregation, created_at=T0)


def tenant(**fields) -> Tenant:
    return Tenant(
        id="acme", name="Acme <b>", created_at=T0, updated_at=T0, plan="pro", timezone="Europe/Paris", **fields
    )


def test_a_plan_reads_one_total_per_meter_and_one_group_per_filtered_dimension():
    p = plan(
        TOKENS_GPT,
        TOKENS_MINI,
        TOKENS_REST,
        Charge("amount", Model.PERCENTAGE, rate=D(1), fixed_amount=D("0.3"), events_meter="payments"),
    )
    assert needed(p) == ({"tokens", "amount", "payments"}, {("tokens", "model")})


def test_filtered_charges_price_their_group_and_the_unfiltered_one_prices_the_remainder():
    usage = PeriodUsage({"tokens": D(1000)}, {("tokens", "model"): {"gpt-4o": D(600), "mini": D(150), "o1": D(50)}})
    assert charge_quantities([TOKENS_GPT, TOKENS_MINI, TOKENS_REST], usage) == [600, 150, 250]
    # a value with no usage in the period prices 0, and the remainder never goes below zero
    stale = PeriodUsage({"tokens": D(10)}, {("tokens", "model"): {"gpt-4o": D(10)}})
    assert charge_quantities([TOKENS_MINI, TOKENS_GPT, TOKENS_REST], stale) == [0, 10, 0]


@given(st.lists(st.integers(0, 10**9), min_size=2, max_size=2), st.integers(0, 10**9))
def test_the_filtered_quantities_and_the_remainder_add_up_to_the_total(groups, other):
    total = sum(groups) + other
    usage = PeriodUsage({"tokens": D(total)}, {("tokens", "model"): {"gpt-4o": D(groups[0]), "mini": D(groups[1])}})
    assert sum(charge_quantities([TOKENS_GPT, TOKENS_MINI, TOKENS_REST], usage)) == total


def test_no_fee_no_commitment_and_no_usage_is_not_invoiced_but_free_usage_is():
    calls = Charge("calls", Model.PER_UNIT, unit_amount=D(1), free_units=D(100))
    assert nothing_to_bill(plan(calls), PeriodUsage({"calls": D(0)}))
    assert not nothing_to_bill(plan(calls), PeriodUsage({"calls": D(40)}))  # an invoice of 0
    assert not nothing_to_bill(plan(calls, base_fee=D(10)), PeriodUsage({}))
    assert not nothing_to_bill(plan(calls, minimum=D(10)), PeriodUsage({}))


def test_the_stripe_graduated_vector_and_its_tier_breakdown_on_the_line():
    totals = compute(
        plan(Charge("calls", Model.GRADUATED, tiers=STRIPE_TIERS)),
        {"calls": meter("calls")},
        PeriodUsage({"calls": D(20)}),
        period_start=START,
        period_end=END,
    )
    (line,) = totals.lines
    assert line.amount == D("127.50") and totals.total == D("127.50")
    assert [(t["tier"], t["quantity"], t["amount"]) for t in line.details["tiers"]] == [
        (1, "5", "35.00"),
        (2, "5", "32.50"),
        (3, "10", "60.00"),
    ]


def test_lago_order_base_fee_usage_discount_then_tax():
    discount = Discount(id="d10", name="Ten off", type=DiscountType.FIXED, priority=1, amount=D(10))
    totals = compute(
        plan(Charge("calls", Model.PER_UNIT, unit_amount=D(2)), base_fee=D(50)),
        {"calls": meter("calls")},
        PeriodUsage({"calls": D(10)}),
        discounts=[discount],
        tax=TaxDecision(rates=(TaxRate("vat", "VAT", D(10), "FR"),)),
        period_start=START,
        period_end=END,
    )
    assert (totals.subtotal, totals.discount_total, totals.tax_total, totals.total) == (70, -10, 6, 66)


def test_a_percentage_charge_counts_its_events_on_the_count_meter():
    charge = Charge("amount", Model.PERCENTAGE, rate=D("2.9"), fixed_amount=D("0.30"), events_meter="payments")
    totals = compute(
        plan(charge),
        {"amount": meter("amount")},
        PeriodUsage({"amount": D("1000.00"), "payments": D(4)}),
        period_start=START,
        period_end=END,
    )
    assert totals.lines[0].amount == D("30.20")  # 2.9 % of 1000 + 4 x 0.30
    assert "4 events" in totals.lines[0].description


def test_a_discount_on_one_model_takes_its_base_from_that_line_only():
    discount = Discount(
        id="gpt",
        name="Half off GPT",
        type=DiscountType.PERCENTAGE,
        priority=1,
        percent=D(50),
        applies_to=AppliesTo(meters=("tokens",), filter=("model", "gpt-4o")),
    )
    usage = PeriodUsage({"tokens": D(1_000_000)}, {("tokens", "model"): {"gpt-4o": D(600_000), "mini": D(400_000)}})
    totals = compute(
        plan(TOKENS_GPT, TOKENS_MINI),
        {"tokens": meter("tokens")},
        usage,
        discounts=[discount],
        period_start=START,
        period_end=END,
    )
    assert [line.amount for line in totals.lines] == [D("6.00"), D("0.40"), D("-3.00")]


def test_the_document_has_the_issue_s_fields_with_the_tenant_s_offset_and_minor_digits():
    p = plan(Charge("calls", Model.PER_UNIT, unit_amount=D(3)), currency="KWD")
    totals = compute(
        p, {"calls": meter("calls")}, PeriodUsage({"calls": D("0.125")}), period_start=START, period_end=END
    )
    t = tenant(currency="KWD", billing_address=Address(country="FR", city="Paris"), tax_id="FR123")
    doc = document(Header("in_1", "draft", START, END), t, p, totals, None)
    assert doc["period"] == {"start": "2026-11-01T00:00:00+01:00", "end": "2026-12-01T00:00:00+01:00"}
    assert doc["lines"][0]["amount"] == "0.375" and doc["total"] == "0.375" and doc["currency"] == "KWD"
    assert doc["lines"][0]["type"] == "charge" and doc["lines"][0]["meter"] == "calls"
    assert doc["lines"][0]["quantity"] == "0.125" and doc["lines"][0]["unit_amount"] == "3"
    assert doc["bill_to"]["name"] == "Acme <b>" and doc["bill_to"]["tax_id"] == "FR123"
    assert doc["number"] is None and doc["status"] == "draft" and doc["id"] == "in_1"
    assert {"subtotal", "discount_total", "taxes", "tax_total", "issued_at", "due_at"} <= doc.keys()
