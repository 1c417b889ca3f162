"""The tenant-health store: DynamoHealthStore (moto, the template's table and index) and
FakeHealthStore held to one contract, and HealthService's filters on the real adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import new_root
from tests.fakes.health import FakeHealthStore
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tollgate.adapters import cursors
from tollgate.domain.health import TenantHealth
from tollgate.domain.quota import Status

T0 = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
H, W, X = Status.HEALTHY, Status.WARNING, Status.CRITICAL


@pytest.fixture(params=["dynamodb", "fake"])
def store(request, fresh_aws):
    return new_root().health_store if request.param == "dynamodb" else FakeHealthStore()


def every(store, status: Status, limit: int) -> list[str]:
    out: list[str] = []
    page, cursor = store.query(status, limit, None)
    out += [h.tenant_id for h in page]
    while cursor is not None:
        page, cursor = store.query(status, limit, cursor)
        out += [h.tenant_id for h in page]
    return out


def test_put_and_read_back_exactly(store):
    h = TenantHealth("acme", X, True, T0)
    store.put(h)
    assert store.get_many(["acme", "ghost"]) == {"acme": h}  # microseconds and the zone kept
    assert store.get_many([]) == {}
    with pytest.raises(ValueError):
        store.put(TenantHealth.never_evaluated("acme"))


def test_the_later_computation_stays(store):
    store.put(TenantHealth("acme", H, False, T0))
    store.put(TenantHealth("acme", X, True, T0 - timedelta(microseconds=1)))  # computed earlier, written later
    assert store.get_many(["acme"])["acme"].status is H
    store.put(TenantHealth("acme", W, False, T0))  # the same instant: the last write wins
    store.put(TenantHealth("acme", X, True, T0 + timedelta(seconds=1)))
    assert store.get_many(["acme"])["acme"] == TenantHealth("acme", X, True, T0 + timedelta(seconds=1))


def test_query_pages_one_status_by_tenant_id(store):
    for i in range(7):
        store.put(TenantHealth(f"t{i}", X if i % 2 == 0 else W, i == 0, T0))
    store.put(TenantHealth("t2", H, False, T0 + timedelta(seconds=1)))  # moved: out of the critical list
    for limit in (1, 2, 10):
        assert every(store, X, limit) == ["t0", "t4", "t6"]
        assert every(store, W, limit) == ["t1", "t3", "t5"]
    assert every(store, Status.CAUTION, 5) == []


def test_many_ids_are_read_in_batches(store):
    for i in range(130):
        store.put(TenantHealth(f"t{i:03}", H, False, T0))
    got = store.get_many([f"t{i:03}" for i in range(140)] + ["t000"])
    assert sorted(got) == [f"t{i:03}" for i in range(130)]


def test_a_cursor_of_another_list_is_a_value_error(store):
    for i in range(3):
        store.put(TenantHealth(f"t{i}", X, False, T0))
    _, cursor = store.query(X, 1, None)
    assert cursor is not None
    with pytest.raises(ValueError):
        store.query(W, 1, cursor)
    with pytest.raises(ValueError):
        store.query(X, 1, "garbage!")


def test_the_adapter_refuses_a_crafted_cursor(fresh_aws):
    store = new_root().health_store
    for crafted in ({"s": "critical"}, {"s": "critical", "t": ""}, {"s": "critical", "t": 7}, ["critical", "t"]):
        with pytest.raises(ValueError):
            store.query(X, 1, cursors.encode(crafted))


def test_the_filters_on_dynamodb(fresh_aws):
    """HealthService over the real tables: the by_status index, the tenant scan, the plan filter."""
    from tollgate.domain.records import Tenant

    root = new_root()
    for tenant, plan in (("a", "free"), ("b", "pro"), ("c", "free"), ("d", "free")):
        root.tenant_repo.create(Tenant(id=tenant, name=tenant, plan=plan, created_at=T0, updated_at=T0))
    root.health_store.put(TenantHealth("a", X, True, T0))
    root.health_store.put(TenantHealth("b", X, True, T0))
    root.health_store.put(TenantHealth("c", W, False, T0))

    def ids(**filters) -> list[str]:
        out, cursor = [], None
        while True:
            rows, cursor = root.health.list_tenants(1, cursor, **filters)
            out += [t.id for t, _ in rows]
            if cursor is None:
                return sorted(out)

    assert ids(status=X, has_overages=True, plan="free") == ["a"]
    assert ids(has_overages=True) == ["a", "b"]
    assert ids(status=W) == ["c"]
    assert ids(status=H) == ["d"]
    assert ids(has_overages=False, plan="free") == ["c", "d"]
    assert ids() == ["a", "b", "c", "d"]
