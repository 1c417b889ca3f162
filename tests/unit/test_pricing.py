"""Charge models against published vectors (Stripe's and Lago's docs), validation naming each
field, money rounding, and properties. Pure: tollgate.domain.pricing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.domain.errors import ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.pricing import Charge, Model, Tier, money_text, parse_charges, price, round_money

D = Decimal
STRIPE_TIERS = (Tier(D(5), D(7)), Tier(D(10), D("6.5")), Tier(None, D(6)))  # 1-5 at 7, 6-10 at 6.5, 11+ at 6
STRIPE_FLAT = (Tier(D(5), D(5), D(10)), Tier(D(10), D(4), D(20)), Tier(None, D(3), D(30)))  # unit + flat per tier


def cost(model: Model, quantity: int | str, **fields) -> Decimal:
    return price(Charge("m", model, **fields), D(quantity)).amount


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"), [(6, "41.50", 39), (20, "127.50", 120), (25, "157.50", 150)]
)
def test_stripe_tiers_graduated_and_volume(quantity, graduated, volume):
    assert cost(Model.GRADUATED, quantity, tiers=STRIPE_TIERS) == D(graduated)
    assert cost(Model.VOLUME, quantity, tiers=STRIPE_TIERS) == D(volume)


def test_stripe_flat_rate_tiers_at_12():
    assert cost(Model.VOLUME, 12, tiers=STRIPE_FLAT) == 66
    assert cost(Model.GRADUATED, 12, tiers=STRIPE_FLAT) == 111


def test_the_first_tiers_flat_is_charged_at_zero_and_a_tier_not_entered_costs_nothing():
    assert cost(Model.GRADUATED, 0, tiers=STRIPE_FLAT) == 10
    assert cost(Model.VOLUME, 0, tiers=STRIPE_FLAT) == 10
    assert cost(Model.GRADUATED, 5, tiers=STRIPE_FLAT) == 35  # tier 2 not entered: no flat 20
    parts = price(Charge("m", Model.GRADUATED, tiers=STRIPE_FLAT), D(6)).tiers
    assert [(p.tier, p.quantity, p.amount) for p in parts] == [(1, 5, 35), (2, 1, 24)]


def test_lago_package_first_100_free():
    assert cost(Model.PACKAGE, 201, package_size=D(100), package_amount=D(5), free_units=D(100)) == 10
    assert cost(Model.PACKAGE, 100, package_size=D(100), package_amount=D(5), free_units=D(100)) == 0
    assert cost(Model.PACKAGE, 101, package_size=D(100), package_amount=D(5)) == 10  # partial packages round up


def test_lago_volume_65000_calls():
    tiers = (
        Tier(D(10_000), D("0.0010"), D(10)),
        Tier(D(50_000), D("0.0008"), D(10)),
        Tier(D(100_000), D("0.0006"), D(10)),
        Tier(None, D("0.0004"), D(10)),
    )
    assert cost(Model.VOLUME, 65_000, tiers=tiers) == 49


def test_per_unit_with_free_units_prices_overage_and_percentage_adds_a_fixed_amount_per_event():
    assert cost(Model.PER_UNIT, 1_250, unit_amount=D("0.02"), free_units=D(1_000)) == 5
    assert cost(Model.PER_UNIT, 900, unit_amount=D("0.02"), free_units=D(1_000)) == 0
    charged = price(Charge("m", Model.PERCENTAGE, rate=D("2.9"), fixed_amount=D("0.30")), D("1000.00"), events=4)
    assert charged.amount == D("30.200")


def test_money_rounds_half_up_to_the_currencys_minor_units_and_prints_exactly_that_many_digits():
    assert (money_text(D("41.5"), "USD"), money_text(D("500"), "JPY"), money_text(D("0.375"), "KWD")) == (
        "41.50",
        "500",
        "0.375",
    )
    assert round_money(D("0.125"), "USD") == D("0.13") and round_money(D("2.5"), "JPY") == 3
    assert round_money(D("-0.125"), "USD") == D("-0.13")  # half away from zero, for discount lines too


METERS = {
    "calls": (Aggregation.COUNT, ()),
    "tokens": (Aggregation.SUM, ("model", "region")),
    "amount": (Aggregation.SUM, ()),
    "peak": (Aggregation.MAX, ("zone",)),
}


def fields(raw) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_charges(raw, METERS)
    return [e.field for e in caught.value.errors]


def test_a_valid_plan_of_charges_parses_and_round_trips():
    raw = [
        {"meter": "calls", "model": "per_unit", "unit_amount": "0.001", "free_units": 1000},
        {
            "meter": "tokens",
            "model": "graduated",
            "filter": {"model": "gpt-4o"},
            "tiers": [{"up_to": 1000, "unit_amount": 0.01, "flat_amount": 1}, {"up_to": None, "unit_amount": 0.005}],
        },
        {"meter": "tokens", "model": "per_unit", "filter": {"model": "mini"}, "unit_amount": 0.001},
        {"meter": "tokens", "model": "per_unit", "unit_amount": 0.002},
        {"meter": "amount", "model": "percentage", "rate": 2.9, "fixed_amount": 0.3, "events_meter": "calls"},
        {"meter": "peak", "model": "package", "package_size": 10, "package_amount": 5},
    ]
    charges = parse_charges(raw, METERS)
    assert [c.model for c in charges] == [
        Model.PER_UNIT,
        Model.GRADUATED,
        Model.PER_UNIT,
        Model.PER_UNIT,
        Model.PERCENTAGE,
        Model.PACKAGE,
    ]
    assert charges[1].filter == ("model", "gpt-4o") and charges[1].tiers[1].up_to is None
    assert charges[4].events_meter == "calls"
    assert parse_charges([c.as_dict() for c in charges], METERS) == charges


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            [{"meter": "amount", "model": "percentage", "rate": 1, "fixed_amount": "0.30"}],
            ["charges[0].events_meter"],
        ),
        (
            [{"meter": "amount", "model": "percentage", "rate": 1, "fixed_amount": 1, "events_meter": "amount"}],
            ["charges[0].events_meter"],
        ),
        (
            [
                {"meter": "peak", "model": "per_unit", "unit_amount": 1},
                {"meter": "peak", "model": "per_unit", "unit_amount": 1, "filter": {"zone": "eu"}},
            ],
            ["charges[0].filter"],
        ),
        ([{"meter": "nope", "model": "per_unit", "unit_amount": 1}], ["charges[0].meter"]),
        ([{"meter": "calls", "model": "flat", "unit_amount": 1}], ["charges[0].model"]),
        ([{"meter": "calls", "model": "per_unit", "unit_amount": -1}], ["charges[0].unit_amount"]),
        ([{"meter": "calls", "model": "percentage", "rate": 1}], ["charges[0].model"]),
        ([{"meter": "calls", "model": "package", "package_size": 0, "package_amount": 1}], ["charges[0].package_size"]),
        (
            [
                {
                    "meter": "calls",
                    "model": "graduated",
                    "tiers": [
                        {"up_to": 10, "unit_amount": 1},
                        {"up_to": 5, "unit_amount": 1},
                        {"up_to": None, "unit_amount": 1},
                    ],
                }
            ],
            ["charges[0].tiers[1].up_to"],
        ),
        (
            [
                {
                    "meter": "calls",
                    "model": "volume",
                    "tiers": [{"up_to": None, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}],
                }
            ],
            ["charges[0].tiers[0].up_to"],
        ),
        (
            [{"meter": "calls", "model": "volume", "tiers": [{"up_to": 5, "unit_amount": 1}]}],
            ["charges[0].tiers[0].up_to"],
        ),
        (
            [
                {"meter": "calls", "model": "per_unit", "unit_amount": 1},
                {"meter": "calls", "model": "per_unit", "unit_amount": 2},
            ],
            ["charges[1].filter"],
        ),
        (
            [
                {"meter": "tokens", "model": "per_unit", "unit_amount": 1, "filter": {"model": "a"}},
                {"meter": "tokens", "model": "per_unit", "unit_amount": 1, "filter": {"region": "eu"}},
            ],
            ["charges[0].filter", "charges[1].filter"],
        ),
        (
            [
                {"meter": "tokens", "model": "per_unit", "unit_amount": 1, "filter": {"model": "a"}},
                {"meter": "tokens", "model": "per_unit", "unit_amount": 2, "filter": {"model": "a"}},
            ],
            ["charges[1].filter"],
        ),
        ([{"meter": "calls", "model": "per_unit", "unit_amount": 1, "filter": {"model": "a"}}], ["charges[0].filter"]),
        ([{"meter": "calls", "model": "per_unit", "unit_amount": 1}] * 51, ["charges"]),
    ],
)
def test_bad_charges_get_422_naming_the_field(raw, expected):
    assert fields(raw) == expected


amounts = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def tier_lists(draw, flat: bool = True):
    bounds = sorted(set(draw(st.lists(st.integers(1, 10_000), min_size=0, max_size=5))))
    ups: list[Decimal | None] = [D(b) for b in bounds] + [None]
    return tuple(Tier(u, draw(amounts), draw(amounts) if flat else D(0)) for u in ups)


@settings(max_examples=200, deadline=None)
@given(
    tiers=tier_lists(), q=st.decimals(min_value=0, max_value=50_000, places=2, allow_nan=False, allow_infinity=False)
)
def test_graduated_is_never_negative_and_its_parts_add_up(tiers, q):
    priced = price(Charge("m", Model.GRADUATED, tiers=tiers), q)
    assert priced.amount >= 0
    assert sum(p.quantity for p in priced.tiers) == q
    assert priced.amount == sum(p.amount for p in priced.tiers)


@settings(max_examples=200, deadline=None)
@given(tiers=tier_lists(flat=False), a=st.integers(0, 20_000), b=st.integers(0, 20_000))
def test_graduated_without_flat_amounts_is_monotone_in_quantity(tiers, a, b):
    lo, hi = sorted((a, b))
    charge = Charge("m", Model.GRADUATED, tiers=tiers)
    assert price(charge, D(lo)).amount <= price(charge, D(hi)).amount
