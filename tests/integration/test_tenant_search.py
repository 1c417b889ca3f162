"""Prefix search of tenants (``GET /v1/tenants?q=``): TenantRepo (moto, the template's two
search indexes) and FakeTenantRepository held to one contract, then HealthService combining
it with the other filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import new_root
from tests.fakes.repos import FakeTenantRepository
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tollgate.adapters import cursors
from tollgate.domain.health import TenantHealth
from tollgate.domain.quota import Status
from tollgate.domain.records import Tenant

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TENANTS = {  # id: (name, plan)
    "acme": ("Acme Corp", "free"),
    "Acme-EU": ("Acme Europe", "pro"),
    "beta": ("ACME Labs", "free"),  # matches "acme" by name only
    "gamma": ("Globex", "free"),
    "acmex": ("Zeta", "pro"),
    "delta": ("Acméa", "free"),  # not "acme" + something: é is not e
}


@pytest.fixture(params=["dynamodb", "fake"])
def repo(request, fresh_aws):
    repo = new_root().tenant_repo if request.param == "dynamodb" else FakeTenantRepository()
    for tenant_id, (name, plan) in TENANTS.items():
        repo.create(Tenant(id=tenant_id, name=name, plan=plan, created_at=T0, updated_at=T0))
    return repo


def search_all(repo, prefix: str, limit: int) -> list[str]:
    out: list[str] = []
    cursor = None
    for _ in range(50):
        page, cursor = repo.search(prefix, limit, cursor)
        assert len(page) <= limit
        out += [t.id for t in page]
        if cursor is None:
            return out
    raise AssertionError("the search never ended")


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_id_matches_then_name_matches_each_once(repo, limit):
    # id matches in lower-cased id order, then name-only matches in name order
    assert search_all(repo, "acme", limit) == ["acme", "Acme-EU", "acmex", "beta"]
    assert search_all(repo, "ACME ", limit) == ["acme", "Acme-EU", "beta"]  # by name only: Corp, Europe, Labs
    assert search_all(repo, "g", limit) == ["gamma"]  # id and name both match: once
    assert search_all(repo, "acmé", limit) == ["delta"]
    assert search_all(repo, "nobody", limit) == []


def test_a_renamed_tenant_is_found_by_its_new_name(repo):
    before = repo.get("gamma")
    renamed = Tenant(**{**before.__dict__, "name": "Initech"})
    repo.replace(renamed)
    assert search_all(repo, "ini", 10) == ["gamma"]
    assert search_all(repo, "glo", 10) == []


def test_a_cursor_of_another_search_is_a_value_error(repo):
    _, cursor = repo.search("acme", 1, None)
    assert cursor is not None
    with pytest.raises(ValueError):
        repo.search("beta", 1, cursor)
    for crafted in ({"q": "acme", "p": "elsewhere"}, {"q": "acme", "p": "id", "k": 5, "id": "x"}, ["acme"]):
        with pytest.raises(ValueError):
            repo.search("acme", 1, cursors.encode(crafted))


def test_search_combines_with_plan_and_health(fresh_aws):
    root = new_root()
    for tenant_id, (name, plan) in TENANTS.items():
        root.tenant_repo.create(Tenant(id=tenant_id, name=name, plan=plan, created_at=T0, updated_at=T0))
    root.health_store.put(TenantHealth("beta", Status.CRITICAL, True, T0))

    def ids(**filters) -> list[str]:
        out, cursor = [], None
        while True:
            rows, cursor = root.health.list_tenants(1, cursor, **filters)
            out += [t.id for t, _ in rows]
            if cursor is None:
                return out

    assert ids(q="acme") == ["acme", "Acme-EU", "acmex", "beta"]
    assert ids(q="acme", plan="pro") == ["Acme-EU", "acmex"]
    assert ids(q="acme", has_overages=True) == ["beta"]
    assert ids(q="acme", status=Status.HEALTHY) == ["acme", "Acme-EU", "acmex"]
