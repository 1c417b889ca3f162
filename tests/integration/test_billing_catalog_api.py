"""Tax rates, discounts, tenants' discounts and billing addresses through the API (moto)."""

from __future__ import annotations

import pytest

from tollgate.domain.keys import Scope

PROMO = {"name": "Promo", "type": "percentage", "percent": 10, "priority": 1}


def _tenant(api, admin_key, tenant_id="acme", **fields):
    r = api.call("POST", "/v1/tenants", key=admin_key, body={"id": tenant_id, "name": tenant_id, **fields})
    assert r.status == 201, r.body
    return r.body


def test_billing_address_tax_id_and_exemption_on_create_patch_and_read(api, admin_key):
    created = _tenant(api, admin_key, billing_address={"city": "Lyon", "country": "FR"}, tax_id="FR123")
    assert created["billing_address"] == {
        "line1": None,
        "line2": None,
        "city": "Lyon",
        "postal_code": None,
        "region": None,
        "country": "FR",
    }
    assert created["tax_id"] == "FR123" and created["tax_exempt"] is False
    body = {"billing_address": {"line1": "1 Main St", "region": "CA", "country": "US"}, "tax_exempt": True}
    patched = api.call("PATCH", "/v1/tenants/acme", key=admin_key, body=body)
    assert patched.status == 200 and patched.body["billing_address"]["country"] == "US"
    got = api.call("GET", "/v1/tenants/acme", key=admin_key).body
    assert got["billing_address"]["city"] is None and got["tax_exempt"] is True and got["tax_id"] == "FR123"
    cleared = api.call("PATCH", "/v1/tenants/acme", key=admin_key, body={"billing_address": None, "tax_id": None})
    assert cleared.body["billing_address"] is None and cleared.body["tax_id"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"billing_address": {"country": "XX"}}, "billing_address.country"),
        ({"billing_address": {"country": "fr"}}, "billing_address.country"),
        ({"billing_address": {"city": "Paris"}}, "billing_address.country"),
        ({"billing_address": {"country": "FR", "street": "x"}}, "billing_address.street"),
        ({"tax_exempt": None}, "tax_exempt"),
    ],
)
def test_tenant_billing_fields_are_validated(api, admin_key, body, field):
    _tenant(api, admin_key)
    r = api.call("PATCH", "/v1/tenants/acme", key=admin_key, body=body)
    assert r.status == 422 and field in [e["field"] for e in r.problem["errors"]], r.body


def test_tax_rates(api, admin_key):
    r = api.call(
        "PUT",
        "/v1/tax-rates/us-ca",
        key=admin_key,
        body={"name": "CA", "percent": 7.25, "country": "US", "region": "CA"},
    )
    assert r.status == 200 and r.body["percent"] == 7.25 and r.body["region"] == "CA"
    api.call("PUT", "/v1/tax-rates/fr", key=admin_key, body={"name": "TVA", "percent": 20, "country": "FR"})
    again = api.call("PUT", "/v1/tax-rates/fr", key=admin_key, body={"name": "TVA", "percent": "5.5", "country": "FR"})
    assert again.status == 422 and again.problem["errors"][0]["field"] == "percent"  # a number, not text
    listed = api.call("GET", "/v1/tax-rates", key=admin_key).body["items"]
    assert [(t["id"], t["percent"]) for t in listed] == [("fr", 20), ("us-ca", 7.25)]
    for bad, field in [({"percent": 100.5}, "percent"), ({"percent": -1}, "percent"), ({"country": "ZZ"}, "country")]:
        r = api.call("PUT", "/v1/tax-rates/x", key=admin_key, body={"name": "X", "percent": 1, "country": "US"} | bad)
        assert r.status == 422 and r.problem["errors"][0]["field"] == field, r.body


def test_discounts_put_read_and_list(api, admin_key):
    body = {
        "name": "Volume",
        "type": "volume",
        "tiers": [{"from_amount": 100, "percent": 5}, {"from_amount": 1000, "percent": 10}],
        "applies_to": {"meters": ["tokens"], "filter": {"model": "gpt-4o"}},
        "conditions": {
            "plans": ["pro"],
            "min_subtotal": 50,
            "min_usage": {"meter": "tokens", "quantity": 1000},
            "valid_from": "2026-01-01T00:00:00+01:00",
            "valid_to": "2027-01-01T00:00:00Z",
            "first_invoice_only": True,
        },
        "priority": 2,
        "stackable": False,
    }
    r = api.call("PUT", "/v1/discounts/vol", key=admin_key, body=body)
    assert r.status == 200, r.body
    got = api.call("GET", "/v1/discounts/vol", key=admin_key).body
    assert got["tiers"][1] == {"from_amount": 1000, "percent": 10} and got["applies_to"]["filter"] == {
        "model": "gpt-4o"
    }
    assert got["conditions"]["min_usage"] == {"meter": "tokens", "quantity": 1000} and got["stackable"] is False
    assert got["assigned_tenants"] == 0
    assert api.call("PUT", "/v1/discounts/promo", key=admin_key, body=PROMO).status == 200
    assert [d["id"] for d in api.call("GET", "/v1/discounts", key=admin_key).body["items"]] == ["promo", "vol"]
    assert api.call("GET", "/v1/discounts/ghost", key=admin_key).status == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"percent": None}, "percent"),
        ({"percent": 101}, "percent"),
        ({"type": "fixed"}, "amount"),
        ({"type": "bogus"}, "type"),
        ({"priority": None}, "priority"),
        (
            {
                "type": "volume",
                "percent": None,
                "tiers": [{"from_amount": 5, "percent": 1}, {"from_amount": 5, "percent": 2}],
            },
            "tiers[1].from_amount",
        ),
        ({"conditions": {"valid_from": "2026-01-01T00:00:00"}}, "conditions.valid_from"),
        (
            {"conditions": {"valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"}},
            "conditions.valid_to",
        ),
        ({"applies_to": {"filter": {"a": "1", "b": "2"}}}, "applies_to.filter"),
        ({"conditions": {"min_usage": {"meter": "tokens", "quantity": -1}}}, "conditions.min_usage.quantity"),
    ],
)
def test_discount_validation_names_the_field(api, admin_key, change, field):
    r = api.call("PUT", "/v1/discounts/bad", key=admin_key, body=PROMO | change)
    assert r.status == 422 and field in [e["field"] for e in r.problem["errors"]], r.body
    assert api.call("GET", "/v1/discounts/bad", key=admin_key).status == 404


def test_tenant_discounts_are_audited_and_counted(api, admin_key):
    _tenant(api, admin_key)
    for d in ("promo", "second"):
        assert api.call("PUT", f"/v1/discounts/{d}", key=admin_key, body=PROMO).status == 200
    body = {"discount_ids": ["promo", "second"], "reason": "launch deal"}
    r = api.call("PUT", "/v1/tenants/acme/discounts", key=admin_key, body=body)
    assert r.status == 200 and [d["id"] for d in r.body["items"]] == ["promo", "second"], r.body
    assert api.call("GET", "/v1/discounts/promo", key=admin_key).body["assigned_tenants"] == 1
    r = api.call("PUT", "/v1/tenants/acme/discounts", key=admin_key, body={"discount_ids": ["second"], "reason": "end"})
    assert [d["id"] for d in r.body["items"]] == ["second"]
    assert api.call("GET", "/v1/discounts/promo", key=admin_key).body["assigned_tenants"] == 0
    trail = api.call("GET", "/v1/audit", key=admin_key, query={"tenant": "acme"}).body["items"]
    newest = trail[0]
    assert (newest["action"], newest["before"], newest["after"], newest["reason"]) == (
        "tenant.discounts",
        ["promo", "second"],
        ["second"],
        "end",
    )
    unknown = api.call(
        "PUT", "/v1/tenants/acme/discounts", key=admin_key, body={"discount_ids": ["second", "ghost"], "reason": "x"}
    )
    assert unknown.status == 422 and unknown.problem["errors"][0]["field"] == "discount_ids[1]"
    no_reason = api.call("PUT", "/v1/tenants/acme/discounts", key=admin_key, body={"discount_ids": []})
    assert no_reason.status == 422 and no_reason.problem["errors"][0]["field"] == "reason"
    assert (
        api.call("PUT", "/v1/tenants/ghost/discounts", key=admin_key, body={"discount_ids": [], "reason": "x"}).status
        == 404
    )


def test_tenant_keys_cannot_manage_the_catalog(api, admin_key):
    from tests.conftest import new_root

    _tenant(api, admin_key)
    _, key = new_root().keys.create_key(Scope.TENANT, tenant_id="acme")
    assert api.call("GET", "/v1/tax-rates", key=key).status == 403
    assert api.call("PUT", "/v1/discounts/promo", key=key, body=PROMO).status == 403
    assert (
        api.call("PUT", "/v1/tenants/acme/discounts", key=key, body={"discount_ids": [], "reason": "x"}).status == 403
    )
