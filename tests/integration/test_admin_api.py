"""Keys, tenants and meters through the real authorizer and API function."""

from __future__ import annotations

import logging

import pytest

from tollgate.domain.keys import hash_key


def test_tenant_lifecycle(api, admin_key):
    r = api.call(
        "POST",
        "/v1/tenants",
        key=admin_key,
        body={
            "id": "acme",
            "name": "Acme",
            "timezone": "Asia/Kathmandu",
            "currency": "JPY",
            "billing_email": "ops@acme.test",
            "metadata": {"tier": "gold"},
        },
    )
    assert r.status == 201, r.body
    assert r.body["timezone"] == "Asia/Kathmandu" and r.body["currency"] == "JPY"
    assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": "acme", "name": "Again"}).status == 409
    got = api.call("GET", "/v1/tenants/acme", key=admin_key)
    assert got.status == 200 and got.body["name"] == "Acme"
    patched = api.call("PATCH", "/v1/tenants/acme", key=admin_key, body={"name": "Acme Ltd", "timezone": "UTC"})
    assert patched.status == 200 and patched.body["name"] == "Acme Ltd" and patched.body["timezone"] == "UTC"
    assert patched.body["currency"] == "JPY"  # untouched fields stay
    assert api.call("GET", "/v1/tenants/acme", key=admin_key).body["timezone"] == "UTC"
    assert api.call("PATCH", "/v1/tenants/ghost", key=admin_key, body={"name": "x"}).status == 404


def test_tenant_defaults(api, admin_key):
    r = api.call("POST", "/v1/tenants", key=admin_key, body={"id": "t.1-_", "name": "T"})
    assert r.status == 201 and r.body["currency"] == "USD" and r.body["timezone"] == "UTC"


def test_tenant_pagination_walks_every_tenant_once(api, admin_key):
    for i in range(7):
        assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": f"t{i}", "name": f"T{i}"}).status == 201
    seen, cursor = [], None
    while True:
        query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = api.call("GET", "/v1/tenants", key=admin_key, query=query)
        assert page.status == 200 and len(page.body["items"]) <= 3
        seen += [t["id"] for t in page.body["items"]]
        cursor = page.body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"t{i}" for i in range(7)]
    bad = api.call("GET", "/v1/tenants", key=admin_key, query={"cursor": "not-a-cursor"})
    assert bad.status == 422 and bad.problem["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"id": "has space", "name": "x"}, "id"),
        ({"id": "a" * 65, "name": "x"}, "id"),
        ({"id": "ok", "name": ""}, "name"),
        ({"id": "ok", "name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"id": "ok", "name": "x", "currency": "usd"}, "currency"),
        ({"id": "ok", "name": "x", "currency": "ABC"}, "currency"),
        ({"id": "ok", "name": "x", "billing_email": "nope"}, "billing_email"),
        ({"id": "ok", "name": "x", "surprise": 1}, "surprise"),
        ({"name": "x"}, "id"),
        ({"id": 5, "name": "x"}, "id"),
    ],
)
def test_tenant_validation_names_the_field_and_writes_nothing(api, admin_key, body, field):
    r = api.call("POST", "/v1/tenants", key=admin_key, body=body)
    assert r.status == 422
    assert r.problem["type"] == "/problems/validation-error" and r.problem["status"] == 422
    assert field in [e["field"] for e in r.problem["errors"]]
    assert api.call("GET", "/v1/tenants", key=admin_key).body["items"] == []


def test_edge_errors_are_problems_and_write_nothing(api, admin_key):
    malformed = api.call("POST", "/v1/tenants", key=admin_key, body='{"id": "x", ')
    assert malformed.status == 400 and malformed.problem["errors"][0]["field"] == "body"
    nan = api.call("POST", "/v1/tenants", key=admin_key, body='{"id": "x", "name": NaN}')
    assert nan.status == 400
    wrong_type = api.call(
        "POST", "/v1/tenants", key=admin_key, body='{"id": "x", "name": "y"}', headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status == 415 and wrong_type.problem["errors"][0]["field"] == "Content-Type"
    huge = api.call("POST", "/v1/tenants", key=admin_key, body='{"id": "x", "name": "' + "y" * (1024 * 1024) + '"}')
    assert huge.status == 413
    unknown = api.call("GET", "/v1/nothing-here", key=admin_key)
    assert unknown.status == 404 and unknown.problem["title"] == "Not found"
    assert api.call("GET", "/v1/tenants", key=admin_key).body["items"] == []


def test_meters(api, admin_key):
    body = {"key": "api_calls", "name": "API calls", "unit": "call", "aggregation": "sum", "group_by": ["region"]}
    r = api.call("POST", "/v1/meters", key=admin_key, body=body)
    assert r.status == 201 and r.body["value_property"] == "value" and r.body["group_by"] == ["region"]
    assert api.call("POST", "/v1/meters", key=admin_key, body=body).status == 409
    assert api.call("GET", "/v1/meters/api_calls", key=admin_key).body["aggregation"] == "sum"
    assert [m["key"] for m in api.call("GET", "/v1/meters", key=admin_key).body["items"]] == ["api_calls"]
    assert api.call("GET", "/v1/meters/nope", key=admin_key).status == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ({"key": "m", "name": "M", "aggregation": "median"}, "aggregation"),
        ({"key": "bad key", "name": "M", "aggregation": "sum"}, "key"),
        ({"key": "m", "name": "M", "aggregation": "sum", "group_by": ["a", "b", "c", "d", "e", "f"]}, "group_by"),
        ({"key": "m", "name": "M", "aggregation": "sum", "group_by": ["a", "a"]}, "group_by"),
        ({"key": "m", "name": "M", "aggregation": "sum", "value_property": "a b"}, "value_property"),
    ],
)
def test_meter_validation(api, admin_key, body, field):
    r = api.call("POST", "/v1/meters", key=admin_key, body=body)
    assert r.status == 422 and any(e["field"].startswith(field) for e in r.problem["errors"])


def test_keys_are_shown_once_stored_hashed_and_revocable_at_once(api, admin_key, caplog):
    from tollgate.adapters.models import ApiKeyModel

    caplog.set_level(logging.DEBUG)
    api.call("POST", "/v1/tenants", key=admin_key, body={"id": "acme", "name": "Acme"})
    created = api.call("POST", "/v1/keys", key=admin_key, body={"scope": "tenant", "tenant_id": "acme", "name": "ci"})
    assert created.status == 201 and created.body["key"].startswith("tg_")
    secret = created.body["key"]
    stored = ApiKeyModel.get(created.body["id"])
    assert stored.key_hash == hash_key(secret)
    assert secret not in str(stored.attribute_values)
    listed = api.call("GET", "/v1/keys", key=admin_key)
    assert secret not in str(listed.body) and "key" not in listed.body["items"][0]

    assert api.call("GET", "/v1/tenants/acme", key=secret).status == 200
    assert api.call("GET", "/v1/tenants/acme", key=secret, header_style="x-api-key").status == 200
    revoked = api.call("DELETE", f"/v1/keys/{created.body['id']}", key=admin_key)
    assert revoked.status == 200 and revoked.body["revoked_at"]
    # The authorizer cached the key a moment ago; revocation must still win at once.
    after = api.call("GET", "/v1/tenants/acme", key=secret)
    assert after.status == 401 and after.problem["detail"] == "the API key has been revoked"
    assert api.call("DELETE", "/v1/keys/key_0000000000000000", key=admin_key).status == 404
    assert secret not in caplog.text and admin_key not in caplog.text


def test_key_scope_and_tenant_must_agree(api, admin_key):
    r = api.call("POST", "/v1/keys", key=admin_key, body={"scope": "tenant"})
    assert r.status == 422
    r = api.call("POST", "/v1/keys", key=admin_key, body={"scope": "admin", "tenant_id": "acme"})
    assert r.status == 422
    r = api.call("POST", "/v1/keys", key=admin_key, body={"scope": "tenant", "tenant_id": "ghost"})
    assert r.status == 422 and r.problem["errors"][0]["field"] == "tenant_id"
