"""Prices on plans (issue 11) through the API function's handler (in-process moto): PUT and
GET round trips, the 422s naming their field, the tenant-currency rule, and the audit entry."""

from __future__ import annotations

import pytest

from tests.conftest import new_root
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tests.integration.routing import RoutedApi


@pytest.fixture
def api(fresh_aws):
    return RoutedApi()


@pytest.fixture
def admin(api):
    from tollgate.domain.keys import Scope

    key = new_root().keys.create_key(Scope.ADMIN, name="test-admin")[1]
    for body in (
        {"key": "tokens", "name": "Tokens", "aggregation": "sum", "group_by": ["model"]},
        {"key": "api_calls", "name": "Calls", "aggregation": "count"},
    ):
        assert api.call("POST", "/v1/meters", key=key, body=body).status == 201
    return key


PRICED = {
    "name": "Gateway",
    "currency": "EUR",
    "base_fee": "29.00",
    "minimum_commitment": 100,
    "charges": [
        {"meter": "tokens", "model": "per_unit", "unit_amount": "0.0000025", "filter": {"model": "gpt-4o"}},
        {
            "meter": "tokens",
            "model": "graduated",
            "free_units": 1000,
            "tiers": [{"up_to": 1000000, "unit_amount": "0.000001", "flat_amount": 5}, {"unit_amount": 0.0000005}],
        },
        {"meter": "api_calls", "model": "package", "package_size": 1000, "package_amount": "1.5"},
    ],
}


def errors_of(reply) -> dict[str, str]:
    assert reply.status == 422, reply.body
    return {e["field"]: e["message"] for e in reply.problem["errors"]}


def test_put_then_get_returns_the_prices_as_decimal_strings(api, admin):
    put = api.call("PUT", "/v1/plans/gw", key=admin, body={**PRICED, "reason": "launch"})
    assert put.status == 200, put.body
    got = api.call("GET", "/v1/plans/gw", key=admin).body
    assert got == put.body
    assert (got["currency"], got["base_fee"], got["minimum_commitment"]) == ("EUR", "29.00", "100")
    per_model, graduated, package = got["charges"]
    assert per_model["unit_amount"] == "0.0000025" and per_model["filter"] == {"model": "gpt-4o"}
    assert graduated["free_units"] == "1000" and graduated["unit_amount"] is None
    assert graduated["tiers"] == [
        {"up_to": "1000000", "unit_amount": "0.000001", "flat_amount": "5"},
        {"up_to": None, "unit_amount": "0.0000005", "flat_amount": "0"},
    ]
    assert (package["package_size"], package["package_amount"]) == ("1000", "1.5")
    listed = api.call("GET", "/v1/plans", key=admin).body["items"]
    assert [p for p in listed if p["id"] == "gw"] == [got]

    audit = api.call("GET", "/v1/audit", key=admin, query={"plan": "gw"})
    assert audit.status == 200, audit.body
    after = audit.body["items"][0]["after"]
    assert (after["currency"], after["base_fee"], after["minimum_commitment"]) == ("EUR", "29.00", "100")
    assert after["charges"][1]["tiers"][1] == {"up_to": None, "unit_amount": "0.0000005", "flat_amount": "0"}


def test_a_plan_without_prices_has_the_defaults(api, admin):
    r = api.call("PUT", "/v1/plans/plain", key=admin, body={"name": "Plain"})
    assert r.status == 200, r.body
    assert (r.body["currency"], r.body["base_fee"], r.body["minimum_commitment"], r.body["charges"]) == (
        "USD",
        "0",
        None,
        [],
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"base_fee": -1}, "base_fee"),
        ({"base_fee": "1e3"}, "base_fee"),
        ({"minimum_commitment": "-0.01"}, "minimum_commitment"),
        ({"charges": [{"meter": "nope", "model": "per_unit", "unit_amount": 1}]}, "charges[0].meter"),
        ({"charges": [{"meter": "tokens", "model": "flat"}]}, "charges[0].model"),
        ({"charges": [{"meter": "api_calls", "model": "percentage", "rate": 2}]}, "charges[0].model"),
        (
            {"charges": [{"meter": "api_calls", "model": "package", "package_size": 0, "package_amount": 1}]},
            "charges[0].package_size",
        ),
        (
            {
                "charges": [
                    {
                        "meter": "tokens",
                        "model": "volume",
                        "tiers": [{"up_to": 10, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1}, {"unit_amount": 1}],
                    }
                ]
            },
            "charges[0].tiers[1].up_to",
        ),
        (
            {"charges": [{"meter": "tokens", "model": "per_unit", "unit_amount": 1, "filter": {"region": "eu"}}]},
            "charges[0].filter",
        ),
        ({"charges": [{"meter": "tokens", "model": "per_unit", "unit_amount": 1}] * 2}, "charges[1].filter"),
    ],
)
def test_bad_prices_get_422_naming_the_field(api, admin, change, field):
    r = api.call("PUT", "/v1/plans/bad", key=admin, body={"name": "Bad", **change})
    assert field in errors_of(r), r.body
    assert api.call("GET", "/v1/plans/bad", key=admin).status == 404


def test_a_tenant_takes_a_plan_only_in_its_own_currency(api, admin):
    assert api.call("PUT", "/v1/plans/gw", key=admin, body=PRICED).status == 200
    r = api.call("POST", "/v1/tenants", key=admin, body={"id": "acme", "name": "Acme", "plan": "gw"})
    assert "plan" in errors_of(r)  # a USD tenant, a EUR plan
    ok = api.call(
        "POST", "/v1/tenants", key=admin, body={"id": "acme", "name": "Acme", "plan": "gw", "currency": "EUR"}
    )
    assert ok.status == 201, ok.body

    assert api.call("PUT", "/v1/plans/usd", key=admin, body={"name": "Dollars"}).status == 200
    r = api.call("PATCH", "/v1/tenants/acme", key=admin, body={"plan": "usd", "reason": "move"})
    assert "plan" in errors_of(r)
    r = api.call("PATCH", "/v1/tenants/acme", key=admin, body={"currency": "USD"})
    assert "currency" in errors_of(r)  # its plan still prices in EUR
    r = api.call("PATCH", "/v1/tenants/acme", key=admin, body={"plan": "usd", "currency": "USD", "reason": "move"})
    assert r.status == 200, r.body


def test_a_late_fee_policy_round_trips_and_bad_ones_get_422(api, admin):
    policy = {"type": "percentage", "value": "1.5", "after_days": 7}
    put = api.call("PUT", "/v1/plans/late", key=admin, body={"name": "Late", "late_fee": policy})
    assert put.status == 200, put.body
    assert api.call("GET", "/v1/plans/late", key=admin).body["late_fee"] == policy
    assert api.call("PUT", "/v1/plans/none", key=admin, body={"name": "None"}).body["late_fee"] is None
    too_much = {"name": "L", "late_fee": {"type": "percentage", "value": 101, "after_days": 1}}
    assert "late_fee.value" in errors_of(api.call("PUT", "/v1/plans/l2", key=admin, body=too_much))
    negative = {"name": "L", "late_fee": {"type": "fixed", "value": -1, "after_days": 1}}
    assert errors_of(api.call("PUT", "/v1/plans/l3", key=admin, body=negative))
    days = {"name": "L", "late_fee": {"type": "fixed", "value": 5, "after_days": 400}}
    assert errors_of(api.call("PUT", "/v1/plans/l4", key=admin, body=days))
