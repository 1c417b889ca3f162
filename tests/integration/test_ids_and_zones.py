"""Ids that cannot be a path segment, and time zones that are not IANA Area/Location names (or
UTC), are refused on input with a 422 naming the field; what is already stored still loads.
One moto world for the module: each case uses its own ids."""

from __future__ import annotations

import pytest

DOTS = [".", "..", "...", "...."]


@pytest.fixture(scope="module")
def world(acme_module):
    return acme_module


def _fields(r) -> list[str]:
    return [e["field"] for e in r.problem["errors"]]


# ------------------------------------------------------------------ ids made of dots
@pytest.mark.parametrize("bad", DOTS)
def test_a_tenant_id_of_dots_only_is_refused(world, bad):
    api, key = world
    r = api.call("POST", "/v1/tenants", key=key, body={"id": bad, "name": "Dots"})
    assert r.status == 422 and _fields(r) == ["id"], r.body
    assert bad not in [t["id"] for t in api.call("GET", "/v1/tenants", key=key, query={"limit": "100"}).body["items"]]


@pytest.mark.parametrize("bad", DOTS)
def test_other_tenant_and_plan_ids_of_dots_only_are_refused(world, bad):
    api, key = world
    r = api.call("POST", "/v1/keys", key=key, body={"scope": "tenant", "tenant_id": bad})
    assert r.status == 422 and _fields(r) == ["tenant_id"], r.body
    r = api.call("POST", "/v1/consume", key=key, body={"id": "c1", "tenant": bad, "meter": "api_calls", "amount": 0})
    assert r.status == 422 and _fields(r) == ["tenant"], r.body
    r = api.call("POST", "/v1/tenants", key=key, body={"id": f"t{len(bad)}", "name": "T", "plan": bad})
    assert r.status == 422 and _fields(r) == ["plan"], r.body
    r = api.call("PATCH", "/v1/tenants/acme", key=key, body={"plan": bad, "reason": "x"})
    assert r.status == 422 and _fields(r) == ["plan"], r.body


def test_a_plan_id_of_dots_only_is_refused(world):
    api, key = world
    r = api.call("PUT", "/v1/plans/...", key=key, body={"name": "Dots"})
    assert r.status == 422 and _fields(r) == ["plan_id"], r.body


@pytest.mark.parametrize("good", ["a.", ".a", "a..b", "t.1-_", "_", "-", "x" * 64])
def test_ids_with_dots_and_something_else_are_fine(world, good):
    api, key = world
    assert api.call("POST", "/v1/tenants", key=key, body={"id": good, "name": "Fine"}).status == 201
    assert api.call("GET", f"/v1/tenants/{good}", key=key).body["id"] == good
    assert api.call("PUT", f"/v1/plans/{good}", key=key, body={"name": "Fine"}).status == 200


def test_ids_keep_their_length_limit(world):
    api, key = world
    r = api.call("POST", "/v1/tenants", key=key, body={"id": "x" * 65, "name": "Long"})
    assert r.status == 422 and _fields(r) == ["id"]
    r = api.call("POST", "/v1/tenants", key=key, body={"id": "", "name": "Empty"})
    assert r.status == 422 and _fields(r) == ["id"]


# ------------------------------------------------------------------ time zones
NOT_AREA_LOCATION = [
    "localtime",
    "Factory",
    "EST5EDT",
    "EST",
    "CET",
    "GMT",
    "Zulu",
    "UCT",
    "Universal",
    "US/Eastern",
    "Canada/Pacific",
    "Etc/GMT+5",
    "Etc/GMT",
    "posixrules",
    "Mars/Base",
    "Europe/Nowhere",
    "../etc/passwd",
    "Europe/../UTC",
    "europe/paris",
    "",
]
AREA_LOCATION = [
    "UTC",
    "Etc/UTC",
    "Europe/Paris",
    "America/Argentina/Buenos_Aires",
    "Asia/Kathmandu",
    "Europe/Amsterdam",
    "Asia/Calcutta",
    "Antarctica/Troll",
    "Pacific/Kiritimati",
]


@pytest.mark.parametrize("zone", NOT_AREA_LOCATION)
def test_a_zone_that_is_not_area_location_is_refused(world, zone):
    api, key = world
    r = api.call("POST", "/v1/tenants", key=key, body={"id": "tz-bad", "name": "Zone", "timezone": zone})
    assert r.status == 422 and _fields(r) == ["timezone"], r.body
    r = api.call("PATCH", "/v1/tenants/acme", key=key, body={"timezone": zone})
    assert r.status == 422 and _fields(r) == ["timezone"], r.body


@pytest.mark.parametrize("zone", AREA_LOCATION)
def test_area_location_zones_and_utc_are_fine(world, zone):
    api, key = world
    tenant_id = "tz-" + zone.replace("/", "-")
    r = api.call("POST", "/v1/tenants", key=key, body={"id": tenant_id, "name": "Zone", "timezone": zone})
    assert r.status == 201 and r.body["timezone"] == zone, r.body


@pytest.mark.parametrize("zone", ["EST5EDT", "localtime", "US/Eastern"])
def test_a_tenant_stored_with_an_old_style_zone_still_works(world, zone):
    """Stored before the rule: it loads, its usage and quotas answer, and a PATCH that leaves
    the zone alone is fine."""
    from datetime import UTC, datetime

    from tollgate.adapters.models import TenantModel

    api, key = world
    tenant_id = "old-" + zone.replace("/", "-").lower()
    now = datetime.now(UTC)
    TenantModel(id=tenant_id, name="Old", timezone=zone, currency="USD", created_at=now, updated_at=now).save()
    assert api.call("GET", f"/v1/tenants/{tenant_id}", key=key).body["timezone"] == zone
    assert api.call("PATCH", f"/v1/tenants/{tenant_id}", key=key, body={"name": "Old Ltd"}).status == 200
    usage = api.call(
        "GET",
        "/v1/usage",
        key=key,
        query={"tenant": tenant_id, "meter": "api_calls", "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
    )
    assert usage.status == 200 and usage.body["timezone"] == zone, usage.body
    assert api.call("GET", "/v1/quotas", key=key, query={"tenant": tenant_id}).status == 200
