"""Decimals in JSON documents (tollgate.domain.numbers), and the API's Number. Pure."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from tollgate.api.schemas import Number
from tollgate.domain.numbers import json_number


class Out(BaseModel):
    value: Number
    total: Number | None = None


def test_integers_stay_exact_whatever_their_size():
    assert json_number(Decimal("1e30")) == 10**30 and isinstance(json_number(Decimal("1e30")), int)
    assert json_number(Decimal("12.000")) == 12 and isinstance(json_number(Decimal("12.000")), int)


def test_a_fraction_a_double_holds_is_that_double():
    for text in ("0.1", "2.5", "0.3", "1.50", "-0.75"):
        assert json_number(Decimal(text)) == float(text)


def test_a_fraction_no_double_holds_is_its_decimal_text():
    d = Decimal("12345678901234567.89")  # money: a double would round it
    assert json_number(d) == "12345678901234567.89"
    assert Decimal(json.loads(Out(value=d).model_dump_json())["value"]) == d


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_responses_of_doubles_are_unchanged(f):
    """Before json_number, responses gave int(d) for a whole d and float(d) otherwise."""
    d = Decimal(repr(f))
    before = int(d) if d == d.to_integral_value() else float(d)
    after = Out(value=d, total=d).model_dump(mode="json")  # what the resolver then writes with json.dumps
    assert after == {"value": before, "total": before}
    assert type(after["value"]) is type(before) and json.dumps(after["value"]) == json.dumps(before)
