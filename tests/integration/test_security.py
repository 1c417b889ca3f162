"""The security matrix: every route without a key, with a bad or revoked key, with the wrong
scope, and a tenant key reaching for another tenant's data."""

from __future__ import annotations

import pytest

from tollgate.domain.keys import Scope

ADMIN, INGEST, TENANT = Scope.ADMIN, Scope.INGEST, Scope.TENANT
RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}
NOTIFICATION = "al_" + "0" * 32
INVOICE = "in_" + "0" * 24

# (method, path, query, body, scopes allowed). A new route must be added here: see
# test_matrix_covers_every_documented_route.
ROUTES = [
    ("POST", "/v1/keys", None, {"scope": "ingest"}, {ADMIN}),
    ("GET", "/v1/keys", None, None, {ADMIN}),
    ("DELETE", "/v1/keys/key_0123456789abcdef", None, None, {ADMIN}),
    ("POST", "/v1/tenants", None, {"id": "new", "name": "New"}, {ADMIN}),
    ("GET", "/v1/tenants", None, None, {ADMIN}),
    ("GET", "/v1/tenants/acme", None, None, {ADMIN, TENANT}),
    ("PATCH", "/v1/tenants/acme", None, {"name": "Acme 2"}, {ADMIN}),
    ("POST", "/v1/meters", None, {"key": "m2", "name": "M2", "aggregation": "count"}, {ADMIN}),
    ("GET", "/v1/meters", None, None, {ADMIN, INGEST, TENANT}),
    ("GET", "/v1/meters/api_calls", None, None, {ADMIN, INGEST, TENANT}),
    ("GET", "/v1/usage", {"tenant": "acme", "meter": "api_calls", **RANGE}, None, {ADMIN, TENANT}),
    ("GET", "/v1/analytics/usage", {"meter": "api_calls", "group_by": "tenant"}, None, {ADMIN}),
    ("GET", "/v1/tenants", {"sort": "usage:api_calls"}, None, {ADMIN}),
    ("GET", "/v1/events", {"tenant": "acme", **RANGE}, None, {ADMIN, TENANT}),
    ("GET", "/v1/events/rejected", {"tenant": "acme"}, None, {ADMIN}),
    (
        "POST",
        "/v1/events",
        None,
        {"id": "e1", "type": "api_calls", "subject": "acme", "data": {"value": 1}},
        {ADMIN, INGEST, TENANT},
    ),
    ("PUT", "/v1/plans/gold", None, {"name": "Gold", "limits": []}, {ADMIN}),
    ("GET", "/v1/plans", None, None, {ADMIN}),
    ("GET", "/v1/plans/gold", None, None, {ADMIN}),
    ("GET", "/v1/tenants/acme/limits", None, None, {ADMIN, TENANT}),
    ("PUT", "/v1/tenants/acme/limits", None, {"limits": []}, {ADMIN}),
    ("GET", "/v1/quotas", {"tenant": "acme"}, None, {ADMIN, TENANT}),
    ("GET", "/v1/audit", {"tenant": "acme"}, None, {ADMIN, TENANT}),
    ("GET", "/v1/notifications", {"tenant": "acme"}, None, {ADMIN, TENANT}),
    ("GET", "/v1/notifications/unread-count", {"tenant": "acme"}, None, {ADMIN, TENANT}),
    ("POST", f"/v1/notifications/{NOTIFICATION}/read", None, None, {ADMIN, TENANT}),  # none: a 404
    ("POST", "/v1/consume", None, {"id": "c1", "tenant": "acme", "meter": "api_calls"}, {ADMIN, INGEST, TENANT}),
    (
        "POST",
        "/v1/tenants/acme/subscriptions",
        None,
        {"protocol": "email", "endpoint": "ops@acme.example"},
        {ADMIN, TENANT},
    ),
    ("GET", "/v1/tenants/acme/subscriptions", None, None, {ADMIN, TENANT}),
    ("PUT", "/v1/tax-rates/vat-fr", None, {"name": "TVA", "percent": 20, "country": "FR"}, {ADMIN}),
    ("GET", "/v1/tax-rates", None, None, {ADMIN}),
    (
        "PUT",
        "/v1/discounts/promo",
        None,
        {"name": "Promo", "type": "percentage", "percent": 10, "priority": 1},
        {ADMIN},
    ),
    ("GET", "/v1/discounts", None, None, {ADMIN}),
    ("GET", "/v1/discounts/promo", None, None, {ADMIN}),
    ("PUT", "/v1/tenants/acme/discounts", None, {"discount_ids": [], "reason": "matrix"}, {ADMIN}),
    ("DELETE", "/v1/tenants/acme/subscriptions/sub_0123456789abcdef", None, None, {ADMIN, TENANT}),
    ("GET", "/v1/invoices", {"tenant": "acme"}, None, {ADMIN, TENANT}),
    ("GET", "/v1/invoices/export", {"tenant": "acme"}, None, {ADMIN, TENANT}),
    ("GET", f"/v1/invoices/{INVOICE}", None, None, {ADMIN, TENANT}),  # none: a 404
    ("GET", f"/v1/invoices/{INVOICE}/download", None, None, {ADMIN, TENANT}),
    ("POST", f"/v1/invoices/{INVOICE}/finalize", None, None, {ADMIN}),
    ("POST", f"/v1/invoices/{INVOICE}/pay", None, {"amount": "1.00", "reference": "ch_1"}, {ADMIN}),
    ("POST", f"/v1/invoices/{INVOICE}/void", None, {"reason": "matrix"}, {ADMIN}),
    ("GET", "/v1/tenants/acme/upcoming-invoice", None, None, {ADMIN, TENANT}),  # no plan: a 409
    ("POST", "/v1/invoice-runs", None, {"period": "2026-10", "tenant": "acme"}, {ADMIN}),
    ("GET", "/v1/invoice-runs/run_0", None, None, {ADMIN}),
    ("GET", "/v1/reports/2026-10", {"format": "csv"}, None, {ADMIN}),
    ("GET", "/v1/me", None, None, {ADMIN, INGEST, TENANT}),
]
PUBLIC = [
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/dashboard"),
    ("GET", "/dashboard/app.js"),
    ("GET", "/dashboard/vendor/uplot/uPlot.esm.js"),
]


@pytest.fixture(scope="module")
def api(aws_module):
    """One world for the module: the matrix only reads, or is refused before any write (or
    writes what it may write again). Routed as API Gateway routes (POST /v1/consume runs the
    limits function)."""
    from tests.integration.routing import RoutedApi

    return RoutedApi()  # its own execution environments (and caches), for this module only


@pytest.fixture(scope="module")
def admin_key(module_admin_key):
    return module_admin_key


@pytest.fixture(scope="module")
def world(api, admin_key):
    from tests.conftest import new_root

    keys = new_root().keys
    create_key = keys.create_key
    for tenant in ("acme", "other"):
        assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": tenant, "name": tenant}).status == 201
    assert (
        api.call(
            "POST", "/v1/meters", key=admin_key, body={"key": "api_calls", "name": "API calls", "aggregation": "sum"}
        ).status
        == 201
    )
    revoked_record, revoked = create_key(ADMIN, name="old")
    keys.revoke_key(revoked_record.id)
    return {
        ADMIN: admin_key,
        INGEST: create_key(INGEST)[1],
        TENANT: create_key(TENANT, tenant_id="acme")[1],
        "revoked": revoked,
        "other_tenant": create_key(TENANT, tenant_id="other")[1],
    }


def _call(api, route, key):
    method, path, query, body, _ = route
    return api.call(method, path, key=key, query=query, body=body)


def _id(route):
    return f"{route[0]} {route[1]}"


@pytest.mark.parametrize("route", ROUTES, ids=_id)
def test_without_a_key_is_401(api, world, route):
    r = _call(api, route, None)
    assert r.status == 401 and r.problem["type"] == "/problems/unauthenticated"
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize("route", ROUTES, ids=_id)
@pytest.mark.parametrize("bad", ["revoked", "unknown", "garbage"])
def test_with_a_bad_key_is_401(api, world, route, bad):
    key = {"revoked": world["revoked"], "unknown": "tg_0123456789abcdef_" + "A" * 43, "garbage": "hunter2"}[bad]
    r = _call(api, route, key)
    assert r.status == 401, r.body
    assert r.problem["status"] == 401


@pytest.mark.parametrize("route", ROUTES, ids=_id)
@pytest.mark.parametrize("scope", [ADMIN, INGEST, TENANT], ids=lambda s: s.value)
def test_scope(api, world, route, scope):
    r = _call(api, route, world[scope])
    if scope in route[4]:
        assert r.status not in (401, 403), (r.status, r.body)
    else:
        assert r.status == 403 and r.problem["type"] == "/problems/forbidden"


@pytest.mark.parametrize(
    "method,path,query",
    [
        ("GET", "/v1/tenants/other", None),
        ("GET", "/v1/usage", {"tenant": "other", "meter": "api_calls", **RANGE}),
        ("GET", "/v1/events", {"tenant": "other", **RANGE}),
        ("GET", "/v1/tenants/other/limits", None),
        ("GET", "/v1/quotas", {"tenant": "other"}),
        ("GET", "/v1/audit", {"tenant": "other"}),
        ("GET", "/v1/tenants/other/subscriptions", None),
        ("DELETE", "/v1/tenants/other/subscriptions/sub_0123456789abcdef", None),
        ("GET", "/v1/notifications", {"tenant": "other"}),
        ("GET", "/v1/notifications/unread-count", {"tenant": "other"}),
        ("GET", "/v1/invoices", {"tenant": "other"}),
        ("GET", "/v1/invoices/export", {"tenant": "other"}),
        ("GET", "/v1/tenants/other/upcoming-invoice", None),
    ],
)
def test_a_tenant_key_cannot_see_another_tenant(api, world, method, path, query):
    r = api.call(method, path, key=world[TENANT], query=query)
    assert r.status == 404 and "other" in r.problem["detail"]
    # ... and the answer is the same as for a tenant that does not exist at all.
    ghost_query = {**query, "tenant": "ghost"} if query else None
    ghost = api.call(method, path.replace("other", "ghost"), key=world[TENANT], query=ghost_query)
    assert ghost.status == 404


def test_a_tenant_key_cannot_consume_for_another_tenant(api, world):
    for tenant in ("other", "ghost"):
        r = api.call("POST", "/v1/consume", key=world[TENANT], body={"id": "x", "tenant": tenant, "meter": "api_calls"})
        assert r.status == 404 and tenant in r.problem["detail"]


@pytest.mark.parametrize("method,path", PUBLIC)
def test_public_routes_need_no_key(api, method, path):
    assert api.call(method, path).status == 200


def test_matrix_covers_every_documented_route(api):
    doc = api.call("GET", "/openapi.json").body
    documented = {
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if (method.upper(), path) not in PUBLIC
    }
    covered = {
        (
            m,
            p.replace("key_0123456789abcdef", "{key_id}")
            .replace("/acme", "/{tenant_id}")
            .replace("/api_calls", "/{key}")
            .replace("/gold", "/{plan_id}")
            .replace("/vat-fr", "/{rate_id}")
            .replace("/promo", "/{discount_id}")
            .replace("sub_0123456789abcdef", "{subscription_id}")
            .replace(f"/{NOTIFICATION}", "/{notification_id}")
            .replace(f"/{INVOICE}", "/{invoice_id}")
            .replace("/run_0", "/{run_id}")
            .replace("/2026-10", "/{period}"),
        )
        for m, p, *_ in ROUTES
    }
    assert documented <= covered, documented - covered
