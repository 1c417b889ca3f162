"""domain/discounts.py: order, stacking, floors, tiers, scopes and each condition."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tollgate.domain.discounts import (
    AppliesTo,
    ChargeAmount,
    Conditions,
    Discount,
    DiscountContext,
    DiscountType,
    MinUsage,
    VolumeTier,
    apply_discounts,
    check_discount,
    discount_as_dict,
    discount_from_dict,
)

D = Decimal
JAN, FEB, MAR = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3))
CTX = DiscountContext(plan="pro", period_start=JAN, period_end=FEB, usage={"tokens": D(1000)}, first_invoice=False)
CHARGES = [
    ChargeAmount("tokens", D(60), ("model", "gpt-4o")),
    ChargeAmount("tokens", D(20)),
    ChargeAmount("calls", D(20)),
]


def pct(id_, percent, priority=1, **kw):
    return Discount(id_, id_.title(), DiscountType.PERCENTAGE, priority, percent=D(percent), **kw)


def fixed(id_, amount, priority=1, **kw):
    return Discount(id_, id_.title(), DiscountType.FIXED, priority, amount=D(amount), **kw)


HUNDRED = D(100)


def amounts(discounts, subtotal=HUNDRED, ctx=CTX):
    return [(line.discount_id, line.amount) for line in apply_discounts(discounts, subtotal, CHARGES, ctx)]


def test_ascending_priority_each_on_what_the_earlier_left():
    assert amounts([pct("b", 10, priority=2), fixed("a", 20, priority=1)]) == [("a", D(-20)), ("b", D(-8))]


def test_a_non_stackable_discount_stops_later_ones_not_earlier_ones():
    got = amounts([pct("a", 10, 1), fixed("b", 5, 2, stackable=False), pct("c", 50, 3)])
    assert got == [("a", D(-10)), ("b", D(-5))]


def test_an_ineligible_non_stackable_discount_stops_nothing():
    stopper = fixed("b", 5, 2, stackable=False, conditions=Conditions(plans=("gold",)))
    assert amounts([stopper, pct("c", 50, 3)]) == [("c", D(-50))]


def test_fixed_never_takes_the_subtotal_below_zero():
    assert amounts([fixed("a", 30), fixed("b", 500, 2), pct("c", 10, 3)], subtotal=D(100)) == [
        ("a", D(-30)),
        ("b", D(-70)),
    ]
    assert amounts([fixed("a", 30)], subtotal=D(0)) == []


@pytest.mark.parametrize(
    ("subtotal", "expected"), [(D(99), D(0)), (D(100), D(-5)), (D(999.5), D("-49.975")), (D(1000), D(-100))]
)
def test_volume_takes_the_tier_the_base_reaches(subtotal, expected):
    tiers = (VolumeTier(D(100), D(5)), VolumeTier(D(500), D(5)), VolumeTier(D(1000), D(10)))
    vol = Discount("v", "Volume", DiscountType.VOLUME, 1, tiers=tiers)
    lines = apply_discounts([vol], subtotal, CHARGES, CTX)
    assert (lines[0].amount if lines else D(0)) == expected


def test_applies_to_meters_and_filter():
    on_tokens = pct("a", 50, applies_to=AppliesTo(meters=("tokens",)))
    on_model = pct("b", 50, 2, applies_to=AppliesTo(filter=("model", "gpt-4o")))
    on_calls_model = pct("c", 50, 3, applies_to=AppliesTo(("calls",), ("model", "gpt-4o")))
    assert amounts([on_tokens]) == [("a", D(-40))]
    assert amounts([on_model]) == [("b", D(-30))]
    assert amounts([on_calls_model]) == []
    big = fixed("d", 1000, applies_to=AppliesTo(meters=("calls",)))
    assert amounts([big]) == [("d", D(-20))]  # at most its charges


def test_a_scoped_discount_is_capped_by_what_is_left():
    first = fixed("a", 90)
    on_tokens = pct("b", 100, 2, applies_to=AppliesTo(meters=("tokens",)))
    assert amounts([first, on_tokens]) == [("a", D(-90)), ("b", D(-10))]


@pytest.mark.parametrize(
    ("conditions", "applies"),
    [
        (Conditions(plans=("pro", "gold")), True),
        (Conditions(plans=("gold",)), False),
        (Conditions(min_subtotal=D(100)), True),
        (Conditions(min_subtotal=D("100.01")), False),
        (Conditions(min_usage=MinUsage("tokens", D(1000))), True),
        (Conditions(min_usage=MinUsage("tokens", D(1001))), False),
        (Conditions(min_usage=MinUsage("calls", D(1))), False),
        (Conditions(valid_from=datetime(2026, 1, 31, tzinfo=UTC)), True),
        (Conditions(valid_from=FEB), False),
        (Conditions(valid_to=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)), True),
        (Conditions(valid_to=JAN), False),
        (Conditions(valid_from=FEB, valid_to=MAR), False),
        (Conditions(first_invoice_only=True), False),
    ],
)
def test_each_condition(conditions, applies):
    assert bool(amounts([pct("a", 10, conditions=conditions)])) is applies


def test_first_invoice_only_on_the_first_invoice():
    ctx = DiscountContext("pro", JAN, FEB, first_invoice=True)
    assert amounts([pct("a", 10, conditions=Conditions(first_invoice_only=True))], ctx=ctx) == [("a", D(-10))]


def test_amounts_are_unrounded():
    assert amounts([pct("a", "33.333")], subtotal=D("10.01")) == [("a", D("-3.3366333"))]


@pytest.mark.parametrize(
    ("discount", "fields"),
    [
        (Discount("a", "A", DiscountType.PERCENTAGE, 1), ["percent"]),
        (Discount("a", "A", DiscountType.FIXED, 1, percent=D(5)), ["percent", "amount"]),
        (pct("a", 101), ["percent"]),
        (fixed("a", -1), ["amount"]),
        (
            Discount("a", "A", DiscountType.VOLUME, 1, tiers=(VolumeTier(D(10), D(1)), VolumeTier(D(10), D(200)))),
            ["tiers[1].from_amount", "tiers[1].percent"],
        ),
        (pct("a", 1, applies_to=AppliesTo()), ["applies_to"]),
        (pct("a", 1, conditions=Conditions(valid_from=FEB, valid_to=JAN)), ["conditions.valid_to"]),
    ],
)
def test_check_names_each_field(discount, fields):
    assert [e.field for e in check_discount(discount)] == fields


def test_stored_form_round_trips():
    d = Discount(
        "v",
        "V",
        DiscountType.VOLUME,
        3,
        tiers=(VolumeTier(D("0"), D("1.5")),),
        applies_to=AppliesTo(("tokens",), ("model", "gpt-4o")),
        conditions=Conditions(("pro",), D("9.99"), MinUsage("tokens", D(5)), JAN, FEB, True),
        stackable=False,
    )
    assert discount_from_dict(discount_as_dict(d)) == d
    assert check_discount(d) == []
