"""GET /v1/notifications, GET /v1/notifications/unread-count, POST /v1/notifications/{id}/read,
and tenant health in GET /v1/tenants(/{id}) with its filters, through the real handlers
(in-process moto), routed as API Gateway routes them. Notifications are seeded the way the
alerts path stores them: ``DynamoAlertStore.acquire`` of ``domain.alerts.alert_document``s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.alert_docs import alert_doc
from tests.conftest import new_root
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tests.integration.routing import RoutedApi

NOW = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch):
    from tollgate.services import clock as clock_module

    c = Clock(NOW)
    monkeypatch.setattr(clock_module, "now", c)
    return c


@pytest.fixture
def api(fresh_aws, clock):
    return RoutedApi()


def make_key(scope: str, tenant: str | None = None) -> str:
    from tollgate.domain.keys import Scope

    return new_root().keys.create_key(Scope(scope), tenant_id=tenant)[1]


@pytest.fixture
def world(api):
    admin = make_key("admin")
    for tenant in ("acme", "beta"):
        assert api.call("POST", "/v1/tenants", key=admin, body={"id": tenant, "name": tenant}).status == 201
    store = new_root().alert_store
    seeded = [("acme", "0.8", 0), ("beta", "0.8", 1), ("acme", "1", 2), ("acme", None, 3)]
    docs = []
    for tenant, threshold, minutes in seeded:
        doc = alert_doc(tenant, NOW + timedelta(minutes=minutes), threshold=threshold, meter=f"m{minutes}")
        assert store.acquire(doc, NOW, 30) == set()
        docs.append(doc)
    return {
        "admin": admin,
        "acme": make_key("tenant", "acme"),
        "beta": make_key("tenant", "beta"),
        "ingest": make_key("ingest"),
        "docs": docs,
    }


def listed(api, key, **query) -> dict:
    r = api.call("GET", "/v1/notifications", key=key, query=query or None)
    assert r.status == 200, r.body
    return r.body


def meters(body) -> list[str]:
    return [i["meter"] for i in body["items"]]


# ------------------------------------------------------------------ notifications
def test_a_tenant_key_lists_its_own_newest_first(api, world):
    body = listed(api, world["acme"])
    assert meters(body) == ["m3", "m2", "m0"] and body["next_cursor"] is None
    over, reached = body["items"][0], body["items"][2]
    # each item is the stored alert document plus read_at; overage only on over_limit
    assert over == {**world["docs"][3], "read_at": None} and over["overage"] == -20
    assert reached == {**world["docs"][0], "read_at": None} and "overage" not in reached
    assert meters(listed(api, world["acme"], tenant="acme")) == ["m3", "m2", "m0"]  # its own id is fine


def test_an_admin_lists_one_tenant_or_all(api, world):
    assert meters(listed(api, world["admin"], tenant="beta")) == ["m1"]
    everyone = listed(api, world["admin"], limit="3")
    assert meters(everyone) == ["m3", "m2", "m1"] and everyone["next_cursor"]
    rest = listed(api, world["admin"], limit="3", cursor=everyone["next_cursor"])
    assert meters(rest) == ["m0"] and rest["next_cursor"] is None
    assert api.call("GET", "/v1/notifications", key=world["admin"], query={"tenant": "ghost"}).status == 404


def test_filters_and_their_validation(api, world):
    acme = world["acme"]
    assert meters(listed(api, acme, type="billing.over_limit")) == ["m3"]
    assert meters(listed(api, acme, type="usage.threshold_reached")) == ["m2", "m0"]
    assert listed(api, acme, type="system.counter_drift")["items"] == []
    assert meters(listed(api, acme, unread="true")) == ["m3", "m2", "m0"]
    assert listed(api, acme, unread="false")["items"] == []
    for query, field in (
        ({"type": "usage.nope"}, "type"),
        ({"unread": "yes"}, "unread"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"tenant": "bad id"}, "tenant"),
    ):
        r = api.call("GET", "/v1/notifications", key=acme, query=query)
        assert r.status == 422, (query, r.body)
        assert [e["field"] for e in r.problem["errors"]] == [field]
    other_list = listed(api, world["admin"], limit="1")["next_cursor"]  # the all-tenants feed's cursor
    r = api.call("GET", "/v1/notifications", key=acme, query={"cursor": other_list})
    assert r.status == 422 and r.problem["errors"][0]["field"] == "cursor"


def test_mark_read_is_idempotent_and_moves_the_unread_count(api, world, clock):
    acme, newest = world["acme"], world["docs"][3]["id"]

    def unread(key, **query) -> int:
        r = api.call("GET", "/v1/notifications/unread-count", key=key, query=query or None)
        assert r.status == 200, r.body
        return r.body["unread"]

    assert (unread(acme), unread(world["beta"]), unread(world["admin"])) == (3, 1, 4)
    assert unread(world["admin"], tenant="acme") == 3
    first = api.call("POST", f"/v1/notifications/{newest}/read", key=acme)
    assert first.status == 200 and first.body == {**world["docs"][3], "read_at": NOW.isoformat()}
    clock.at += timedelta(minutes=5)
    again = api.call("POST", f"/v1/notifications/{newest}/read", key=acme)
    assert again.status == 200 and again.body == first.body  # the first read_at stays
    assert (unread(acme), unread(world["beta"]), unread(world["admin"])) == (2, 1, 3)
    assert meters(listed(api, acme, unread="false")) == ["m3"]
    assert meters(listed(api, acme, unread="true")) == ["m2", "m0"]
    # an admin may mark any tenant's
    beta_id = world["docs"][1]["id"]
    assert api.call("POST", f"/v1/notifications/{beta_id}/read", key=world["admin"]).status == 200
    assert unread(world["beta"]) == 0


def test_isolation_between_tenants(api, world):
    acme, beta_id = world["acme"], world["docs"][1]["id"]
    for query in ({"tenant": "beta"}, {"tenant": "ghost"}):
        for path in ("/v1/notifications", "/v1/notifications/unread-count"):
            r = api.call("GET", path, key=acme, query=query)
            assert r.status == 404 and query["tenant"] in r.problem["detail"], (path, query)
    r = api.call("POST", f"/v1/notifications/{beta_id}/read", key=acme)
    unknown = api.call("POST", "/v1/notifications/al_" + "0" * 32 + "/read", key=acme)
    assert r.status == unknown.status == 404
    assert r.problem["title"] == unknown.problem["title"]  # another tenant's id looks like no id at all
    beta = listed(api, world["beta"])
    assert beta["items"][0]["read_at"] is None  # acme's attempt marked nothing
    assert "acme" not in {i["tenant_id"] for i in beta["items"]}


def test_an_ingest_key_is_refused(api, world):
    for method, path in (
        ("GET", "/v1/notifications"),
        ("GET", "/v1/notifications/unread-count"),
        ("POST", f"/v1/notifications/{world['docs'][0]['id']}/read"),
    ):
        r = api.call(method, path, key=world["ingest"])
        assert r.status == 403 and r.problem["type"] == "/problems/forbidden"


def test_the_routes_are_documented_with_their_schemas(api):
    doc = api.call("GET", "/openapi.json").body
    listing = doc["paths"]["/v1/notifications"]["get"]
    params = {p["name"] for p in listing["parameters"]}
    assert params == {"tenant", "unread", "type", "limit", "cursor"}
    schema = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/NotificationsPage")
    item = doc["components"]["schemas"]["NotificationOut"]
    assert {"id", "type", "severity", "tenant_id", "occurred_at", "read_at"} <= set(item["required"])
    types = doc["components"]["schemas"]["AlertType"]["enum"]
    assert types == [
        "usage.threshold_reached",
        "billing.over_limit",
        "system.counter_drift",
        "invoice.ready",
        "invoice.overdue",
        "invoice.reminder",
        "report.ready",
    ]
    count = doc["paths"]["/v1/notifications/unread-count"]["get"]["responses"]["200"]["content"]
    assert count["application/json"]["schema"]["$ref"].endswith("/UnreadCountOut")
    read = doc["paths"]["/v1/notifications/{notification_id}/read"]["post"]
    assert read["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/NotificationOut")
    assert {"404", "403"} <= set(read["responses"])


# ------------------------------------------------------------------ tenant health
PLAN = {"name": "Free", "limits": [{"meter": "api_calls", "window": "day", "limit": 10, "enforcement": "soft"}]}


@pytest.fixture
def fleet(api, world):
    admin = world["admin"]
    assert api.call("PUT", "/v1/plans/free", key=admin, body=PLAN).status == 200
    body = {"key": "api_calls", "name": "API calls", "aggregation": "sum"}
    assert api.call("POST", "/v1/meters", key=admin, body=body).status == 201
    for tenant in ("hot", "warm", "idle"):
        body = {"id": tenant, "name": tenant, "plan": "free", "timezone": "Europe/Paris"}
        assert api.call("POST", "/v1/tenants", key=admin, body=body).status == 201
    for i, (tenant, amount) in enumerate((("hot", 11), ("warm", 9))):
        r = api.call(
            "POST",
            "/v1/consume",
            key=admin,
            body={"id": f"c{i}", "tenant": tenant, "meter": "api_calls", "amount": amount},
        )
        assert r.status == 200, r.body
    # what the alerts path does for the tenants whose level moved
    new_root().health.refresh(["hot", "warm", "idle"])
    return admin


def tenant_ids(api, key, **query) -> list[str]:
    out, cursor = [], None
    while True:
        q = {**query, **({"cursor": cursor} if cursor else {})}
        r = api.call("GET", "/v1/tenants", key=key, query=q or None)
        assert r.status == 200, (query, r.body)
        out += [t["id"] for t in r.body["items"]]
        cursor = r.body["next_cursor"]
        if cursor is None:
            return sorted(out)


def test_each_tenant_carries_its_health(api, world, fleet):
    hot = api.call("GET", "/v1/tenants/hot", key=fleet).body["health"]
    assert hot == {"status": "critical", "has_overages": True, "updated_at": "2026-11-20T10:00:00Z"}
    warm = api.call("GET", "/v1/tenants/warm", key=fleet).body["health"]
    assert (warm["status"], warm["has_overages"]) == ("warning", False)
    never = {"status": "healthy", "has_overages": False, "updated_at": None}
    assert api.call("GET", "/v1/tenants/acme", key=world["acme"]).body["health"] == never  # a tenant key, its own
    listed_health = {t["id"]: t["health"] for t in api.call("GET", "/v1/tenants", key=fleet).body["items"]}
    assert listed_health["hot"] == hot and listed_health["beta"] == never
    assert listed_health["idle"]["status"] == "healthy" and listed_health["idle"]["updated_at"] is not None


def test_the_health_filters_combine(api, fleet):
    assert tenant_ids(api, fleet, health_status="critical", has_overages="true", plan="free") == ["hot"]
    assert tenant_ids(api, fleet, has_overages="true") == ["hot"]
    assert tenant_ids(api, fleet, health_status="warning") == ["warm"]
    assert tenant_ids(api, fleet, health_status="warning", has_overages="true") == []
    assert tenant_ids(api, fleet, health_status="healthy") == ["acme", "beta", "idle"]
    assert tenant_ids(api, fleet, health_status="healthy", plan="free") == ["idle"]
    assert tenant_ids(api, fleet, has_overages="false", limit="1") == ["acme", "beta", "idle", "warm"]
    assert tenant_ids(api, fleet, plan="free", limit="2") == ["hot", "idle", "warm"]
    assert tenant_ids(api, fleet, q="H") == ["hot"]  # a prefix of the id or the name, any case
    assert tenant_ids(api, fleet, q="w", health_status="warning", limit="1") == ["warm"]
    assert tenant_ids(api, fleet, q="w", health_status="critical") == []
    for query, field in (
        ({"health_status": "sick"}, "health_status"),
        ({"has_overages": "1"}, "has_overages"),
        ({"plan": "bad plan"}, "plan"),
        ({"q": ""}, "q"),
        ({"q": "x" * 101}, "q"),
    ):
        r = api.call("GET", "/v1/tenants", key=fleet, query=query)
        assert r.status == 422 and [e["field"] for e in r.problem["errors"]] == [field], r.body


def test_the_list_carries_each_tenants_quotas_on_request(api, fleet):
    """include=quotas: the page's quotas in the list itself, as GET /v1/quotas gives them one
    tenant at a time (a console's quota bars in one request)."""
    plain = api.call("GET", "/v1/tenants", key=fleet, query={"limit": "3"})
    assert plain.status == 200 and all("quotas" not in t for t in plain.body["items"])
    listed = api.call("GET", "/v1/tenants", key=fleet, query={"include": "quotas", "limit": "50"})
    assert listed.status == 200
    rows = {t["id"]: t["quotas"] for t in listed.body["items"]}
    assert sorted(rows) == ["acme", "beta", "hot", "idle", "warm"]
    for tenant_id, quotas in rows.items():
        one = api.call("GET", "/v1/quotas", key=fleet, query={"tenant": tenant_id})
        assert quotas == one.body["quotas"], tenant_id
    assert [q["status"] for q in rows["hot"]] and "critical" in [q["status"] for q in rows["hot"]]
    bad = api.call("GET", "/v1/tenants", key=fleet, query={"include": "everything"})
    assert bad.status == 422 and [e["field"] for e in bad.problem["errors"]] == ["include"]


def test_a_window_reset_shows_after_the_sweeps_refresh(api, fleet, clock):
    clock.at = NOW + timedelta(hours=14)  # 01:00 the next day in Paris: the day's window reset
    assert tenant_ids(api, fleet, health_status="critical") == ["hot"]  # stored: nothing recomputed on read
    refreshed = new_root().health.refresh_unhealthy()
    assert sorted(h.tenant_id for h in refreshed) == ["hot", "warm"]
    assert tenant_ids(api, fleet, health_status="critical") == []
    hot = api.call("GET", "/v1/tenants/hot", key=fleet).body["health"]
    assert hot == {"status": "healthy", "has_overages": False, "updated_at": "2026-11-21T00:00:00Z"}
