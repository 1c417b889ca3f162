"""Invoice assembly (tollgate.domain.invoice_totals): Lago's vector, the minimum commitment's
true-up, discounts that never go below zero, tax per rate rounded once, reverse charge, minor
units per currency, and the total always equal to the lines plus tax."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.domain.invoice_totals import Draft, LineType, assemble

D = Decimal


def test_lago_invoice_assembly_50_plus_20_minus_10_then_10_percent_tax():
    totals = assemble(
        Draft("USD", base_fee=D(50), charges=(("API calls", D(20), {}),)),
        discounts=lambda subtotal: [("Coupon", D(-10))],
        tax_rates=[("VAT", D(10))],
    )
    assert (totals.subtotal, totals.discount_total, totals.tax_total, totals.total) == (70, -10, 6, 66)
    assert [line.type for line in totals.lines] == [LineType.BASE_FEE, LineType.CHARGE, LineType.DISCOUNT]


def test_a_minimum_commitment_trues_up_before_discounts_and_only_when_short():
    short = assemble(Draft("USD", base_fee=D(10), charges=(("calls", D("15.004"), {}),), minimum_commitment=D(100)))
    assert [(line.type, line.amount) for line in short.lines][-1] == (LineType.MINIMUM_COMMITMENT, D("75.00"))
    assert short.subtotal == 100 and short.total == 100
    over = assemble(Draft("USD", charges=(("calls", D(150), {}),), minimum_commitment=D(100)))
    assert LineType.MINIMUM_COMMITMENT not in [line.type for line in over.lines] and over.total == 150


def test_discounts_never_take_the_subtotal_below_zero():
    totals = assemble(
        Draft("EUR", charges=(("calls", D(30), {}),)),
        discounts=lambda s: [("Fixed 25", D(-25)), ("Fixed 25 more", D(-25)), ("Nothing left", D(-5))],
        tax_rates=[("VAT", D(20))],
    )
    assert [line.amount for line in totals.lines if line.type is LineType.DISCOUNT] == [-25, -5]
    assert (totals.discount_total, totals.tax_total, totals.total) == (-30, 0, 0)


def test_tax_is_per_rate_on_the_rounded_subtotal_rounded_once_and_reverse_charge_is_none():
    draft = Draft("USD", charges=(("a", D("0.333"), {}), ("b", D("0.333"), {})))  # lines 0.33 + 0.33
    totals = assemble(draft, tax_rates=[("State", D("6.25")), ("City", D("2.5"))])
    assert totals.subtotal == D("0.66")
    assert [t.amount for t in totals.taxes] == [D("0.04"), D("0.02")]  # 0.04125 -> 0.04, 0.0165 -> 0.02
    reverse = assemble(draft, tax_rates=[("VAT", D(21))], reverse_charge=True)
    assert reverse.taxes == () and reverse.total == D("0.66") and reverse.reverse_charge


def test_minor_units_follow_the_currency():
    jpy = assemble(Draft("JPY", charges=(("calls", D("1234.5"), {}),)), tax_rates=[("JCT", D(10))])
    assert (jpy.subtotal, jpy.tax_total, jpy.total) == (1235, 124, 1359)  # 123.5 rounds half up
    kwd = assemble(Draft("KWD", charges=(("calls", D("0.3754"), {}),)))
    assert kwd.total == D("0.375")


money = st.decimals(min_value=0, max_value=100_000, places=4, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
    base=money,
    charges=st.lists(money, max_size=6),
    minimum=st.none() | money,
    discounts=st.lists(money, max_size=3),
    rates=st.lists(st.decimals(min_value=0, max_value=30, places=2, allow_nan=False, allow_infinity=False), max_size=3),
)
def test_the_total_is_always_the_sum_of_the_lines_plus_tax(currency, base, charges, minimum, discounts, rates):
    totals = assemble(
        Draft(
            currency,
            base_fee=base,
            charges=tuple((f"c{i}", c, {}) for i, c in enumerate(charges)),
            minimum_commitment=minimum,
        ),
        discounts=lambda s: [(f"d{i}", -d) for i, d in enumerate(discounts)],
        tax_rates=[(f"t{i}", r) for i, r in enumerate(rates)],
    )
    assert totals.total == sum(line.amount for line in totals.lines) + totals.tax_total
    assert totals.total >= 0 and totals.subtotal + totals.discount_total >= 0
    assert totals.tax_total == sum(t.amount for t in totals.taxes)
