"""domain/tax.py: the most specific rate, exemption and reverse charge."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tollgate.domain.countries import COUNTRIES, EU_MEMBERS, Address, is_country
from tollgate.domain.tax import REVERSE_CHARGE, TAX_EXEMPT, TaxRate, applicable_rates

US = TaxRate("us", "US federal", Decimal("0"), "US")
CA = TaxRate("us-ca", "California", Decimal("7.25"), "US", "CA")
FR = TaxRate("fr", "TVA", Decimal("20"), "FR")
DE = TaxRate("de", "MwSt", Decimal("19"), "DE")
RATES = [US, CA, FR, DE]


def test_countries_are_the_249_assigned_alpha_2_codes():
    assert len(COUNTRIES) == 249 and EU_MEMBERS <= COUNTRIES and len(EU_MEMBERS) == 27
    assert is_country("FR") and not is_country("XK") and not is_country("fr") and not is_country("UK")
    system = Path("/usr/share/iso-codes/json/iso_3166-1.json")
    if system.exists():  # Debian's iso-codes, when installed
        assert {c["alpha_2"] for c in json.loads(system.read_text())["3166-1"]} == COUNTRIES


def test_country_and_region_win_over_country_alone():
    d = applicable_rates(RATES, Address("US", region="ca "), None, False, "US")
    assert d.rates == (CA,) and d.note is None
    assert applicable_rates(RATES, Address("US", region="NY"), None, False, "US").rates == (US,)
    assert applicable_rates(RATES, Address("US"), None, False, "US").rates == (US,)


def test_no_match_or_no_address_pays_no_tax():
    assert applicable_rates(RATES, Address("JP"), None, False, "US").rates == ()
    assert applicable_rates(RATES, None, None, False, "US").rates == ()
    only_regional = [CA]
    assert applicable_rates(only_regional, Address("US", region="NY"), None, False, "US").rates == ()


def test_rates_at_the_same_level_all_apply_in_id_order():
    extra = TaxRate("us-ca-2", "District", Decimal("1"), "US", "CA")
    assert applicable_rates([extra, *RATES], Address("US", region="CA"), None, False, "US").rates == (CA, extra)


def test_tax_exempt_pays_none():
    d = applicable_rates(RATES, Address("FR"), None, True, "FR")
    assert d.rates == () and d.note == TAX_EXEMPT and not d.reverse_charge


def test_reverse_charge_between_two_eu_countries_with_a_tax_id():
    d = applicable_rates(RATES, Address("DE"), "DE123456789", False, "FR")
    assert d.rates == () and d.reverse_charge and d.note == REVERSE_CHARGE


@pytest.mark.parametrize(
    ("seller", "country", "tax_id", "expected"),
    [
        ("FR", "DE", None, DE),  # no tax id: the buyer's country's rate
        ("FR", "DE", "  ", DE),  # a blank tax id is none
        ("FR", "FR", "FR123", FR),  # same country: domestic
        ("US", "DE", "DE123", DE),  # seller outside the EU
        ("FR", "US", "US-EIN", US),  # tenant outside the EU
    ],
)
def test_no_reverse_charge(seller, country, tax_id, expected):
    d = applicable_rates(RATES, Address(country), tax_id, False, seller)
    assert d.rates == (expected,) and not d.reverse_charge and d.note is None


def test_the_decision_feeds_the_invoice_totals_which_round_each_rate_once():
    from tollgate.domain.invoice_totals import Draft, assemble

    d = applicable_rates(RATES, Address("US", region="CA"), None, False, "US")
    assert [name for name, _ in d.named_rates()] == ["California"]
    totals = assemble(Draft("USD", charges=(("calls", Decimal("10.01"), {}),)), tax_rates=d.named_rates())
    assert [(t.name, t.amount) for t in totals.taxes] == [("California", Decimal("0.73"))]  # 0.725725
