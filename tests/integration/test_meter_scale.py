"""A meter's scale and rounding: stored, shown, and applied to /v1/consume amounts too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest


@pytest.fixture
def world(api, admin_key):
    assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": "acme", "name": "Acme"}).status == 201
    return admin_key


def test_scale_and_rounding_are_stored_and_shown(api, world):
    created = api.call(
        "POST",
        "/v1/meters",
        key=world,
        body={"key": "cents", "name": "Cents", "aggregation": "sum", "scale": 2, "rounding": "half_up"},
    )
    assert created.status == 201, created.body
    assert (created.body["scale"], created.body["rounding"]) == (2, "half_up")
    got = api.call("GET", "/v1/meters/cents", key=world).body
    assert (got["scale"], got["rounding"]) == (2, "half_up")
    default = api.call("POST", "/v1/meters", key=world, body={"key": "b", "name": "B", "aggregation": "sum"}).body
    assert (default["scale"], default["rounding"]) == (9, "reject")


@pytest.mark.parametrize("field, value", [("scale", 19), ("scale", -1), ("scale", 2.5), ("rounding", "nearest")])
def test_bad_scale_or_rounding_is_named(api, world, field, value):
    r = api.call("POST", "/v1/meters", key=world, body={"key": "m", "name": "M", "aggregation": "sum", field: value})
    assert r.status == 422 and [e["field"] for e in r.body["errors"]] == [field]


def test_consume_amounts_follow_the_meters_scale_and_ceiling(api, world):
    api.call("POST", "/v1/meters", key=world, body={"key": "gb", "name": "GB", "aggregation": "sum", "scale": 2})
    api.call(
        "POST",
        "/v1/meters",
        key=world,
        body={"key": "eur", "name": "EUR", "aggregation": "sum", "scale": 2, "rounding": "half_even"},
    )

    def consume(meter, amount, id_):
        return api.call(
            "POST", "/v1/consume", key=world, body={"id": id_, "tenant": "acme", "meter": meter, "amount": amount}
        )

    too_fine = consume("gb", 1.001, "c1")
    assert too_fine.status == 422 and "decimal places" in too_fine.body["errors"][0]["message"]
    too_big = consume("gb", 1e20, "c2")
    assert too_big.status == 422 and "less than" in too_big.body["errors"][0]["message"]
    assert consume("gb", 1.25, "c3").status == 200
    assert consume("eur", 0.125, "c4").status == 200  # half_even: 0.12
    now = datetime.now(UTC)
    span = {
        "tenant": "acme",
        "from": (now - timedelta(days=2)).isoformat(),
        "to": (now + timedelta(days=2)).isoformat(),
    }
    for meter, total in (("gb", 1.25), ("eur", 0.12)):
        usage = api.call("GET", "/v1/usage", key=world, query={"meter": meter, **span})
        assert usage.status == 200 and Decimal(str(usage.body["total"])) == Decimal(str(total)), usage.body
