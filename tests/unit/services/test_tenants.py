"""TenantService on the fakes: audited creation and plan changes, overrides."""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes import FakeTenantRepository
from tests.fakes.world import World
from tollgate.domain.audit import Action, tenant_subject
from tollgate.domain.errors import Conflict, NotFound, ValidationFailed
from tollgate.domain.periods import Window
from tollgate.domain.records import Tenant
from tollgate.services.tenants import TenantService

from .conftest import add_plan, add_tenant, fields_of, limit, rate


@pytest.fixture
def world() -> World:
    w = World()
    add_plan(w, "free", [limit("api_calls", Window.MONTH, 100)], rate(10, 20))
    add_plan(w, "premium", [limit("api_calls", Window.MONTH, 5000)], rate(200, 400))
    return w


def tenant_entries(world: World, tenant_id: str):
    return world.stores.audit_log.of(tenant_subject(tenant_id))


def test_create_without_a_plan_writes_no_audit_entry(world: World):
    tenant = add_tenant(world, "acme", timezone="Europe/Paris")
    assert tenant.created_at == tenant.updated_at == world.clock.now()
    assert world.tenants.get_tenant("acme") == tenant
    assert tenant_entries(world, "acme") == []
    with pytest.raises(Conflict):
        add_tenant(world, "acme")


def test_create_with_a_plan_is_audited(world: World):
    add_tenant(world, "acme", plan="free")
    [entry] = tenant_entries(world, "acme")
    assert (entry.action, entry.actor, entry.before, entry.after) == (
        Action.TENANT_CREATE,
        "key_admin",
        None,
        {"plan": "free"},
    )
    assert entry.at == world.clock.now()
    with pytest.raises(Conflict):
        add_tenant(world, "acme", plan="premium")
    assert len(tenant_entries(world, "acme")) == 1  # nothing of the refused create


def test_create_with_an_unknown_plan_is_refused(world: World):
    with pytest.raises(ValidationFailed) as exc:
        add_tenant(world, "acme", plan="gold")
    assert fields_of(exc.value) == ["plan"]
    assert world.stores.tenant_repo.get("acme") is None
    assert tenant_entries(world, "acme") == []


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_plan_change_needs_a_reason(world: World, reason):
    add_tenant(world, "acme", plan="free")
    with pytest.raises(ValidationFailed) as exc:
        world.tenants.update_tenant("acme", {"plan": "premium"}, "key_admin", reason)
    assert fields_of(exc.value) == ["reason"]
    assert world.tenants.get_tenant("acme").plan == "free"
    assert len(tenant_entries(world, "acme")) == 1


def test_a_plan_change_to_an_unknown_plan_is_refused(world: World):
    add_tenant(world, "acme", plan="free")
    with pytest.raises(ValidationFailed) as exc:
        world.tenants.update_tenant("acme", {"plan": "gold"}, "key_admin", "upgrade")
    assert fields_of(exc.value) == ["plan"]
    assert world.tenants.get_tenant("acme").plan == "free"


def test_a_plan_change_is_audited(world: World):
    add_tenant(world, "acme", plan="free")
    world.clock.advance(seconds=5)
    updated = world.tenants.update_tenant("acme", {"plan": "premium"}, "key_ops", "upgrade")
    assert updated.plan == "premium" and updated.updated_at == world.clock.now()
    assert world.tenants.get_tenant("acme") == updated
    entry = tenant_entries(world, "acme")[-1]
    assert (entry.action, entry.actor, entry.before, entry.after, entry.reason) == (
        Action.TENANT_PLAN,
        "key_ops",
        {"plan": "free"},
        {"plan": "premium"},
        "upgrade",
    )
    # To no plan: allowed (null), audited too.
    world.tenants.update_tenant("acme", {"plan": None}, "key_ops", "churned")
    assert world.tenants.get_tenant("acme").plan is None
    assert tenant_entries(world, "acme")[-1].after == {"plan": None}


def test_other_changes_and_a_same_plan_are_not_audited(world: World):
    add_tenant(world, "acme", plan="free")
    world.tenants.update_tenant("acme", {"name": "ACME Corp"})
    world.tenants.update_tenant("acme", {"plan": "free"}, reason="no change")
    assert world.tenants.get_tenant("acme").name == "ACME Corp"
    assert len(tenant_entries(world, "acme")) == 1
    with pytest.raises(NotFound):
        world.tenants.update_tenant("nobody", {"name": "x"})


class RacingTenantRepository(FakeTenantRepository):
    """Another writer changes the tenant right after the service's consistent read."""

    def __init__(self, audit=None) -> None:
        super().__init__(audit)
        self.race = False

    def get(self, tenant_id: str, consistent: bool = False) -> Tenant | None:
        found = super().get(tenant_id, consistent)
        if self.race and consistent and found is not None:
            self.race = False
            self.items[tenant_id] = dataclasses.replace(
                found, name="elsewhere", updated_at=found.updated_at.replace(year=2030)
            )
        return found


def test_a_plan_change_made_on_a_stale_read_is_a_conflict(world: World):
    s = world.stores
    repo = RacingTenantRepository(s.audit_log)
    tenants = TenantService(repo, s.overrides_repo, s.plan_repo, world.catalog, world.clock)
    tenants.create_tenant({"id": "acme", "name": "Acme", "plan": "free"}, actor="key_admin")
    repo.race = True
    with pytest.raises(Conflict):
        tenants.update_tenant("acme", {"plan": "premium"}, "key_admin", "upgrade")
    assert repo.get("acme").plan == "free" and repo.get("acme").name == "elsewhere"
    assert [e.action for e in s.audit_log.of(tenant_subject("acme"))] == [Action.TENANT_CREATE]


def test_set_overrides_is_audited_and_invalidates_the_catalog(world: World):
    add_tenant(world, "acme", plan="free")
    assert world.catalog.overrides("acme") == ()  # cached
    first = [limit("api_calls", Window.DAY, 10)]
    assert world.tenants.set_overrides("acme", first, actor="key_admin", reason="trial") == tuple(first)
    assert world.catalog.overrides("acme") == tuple(first)  # at once, no clock advance
    assert world.tenants.get_overrides("acme") == tuple(first)

    world.clock.advance(seconds=1)
    second = [limit("storage_gb", Window.LIFETIME, 3), limit("api_calls", Window.DAY, 20)]
    stored = world.tenants.set_overrides("acme", second, actor="key_ops")
    assert [lim.meter for lim in stored] == ["api_calls", "storage_gb"]  # sorted
    assert world.catalog.overrides("acme") == stored

    entries = [e for e in tenant_entries(world, "acme") if e.action == Action.TENANT_LIMITS]
    assert [(e.actor, e.reason) for e in entries] == [("key_admin", "trial"), ("key_ops", None)]
    assert entries[0].before == [] and entries[0].after == [first[0].as_dict()]
    assert entries[1].before == [first[0].as_dict()]
    assert entries[1].after == [lim.as_dict() for lim in stored]

    with pytest.raises(NotFound):
        world.tenants.set_overrides("nobody", first, actor="key_admin")


def test_limits_view(world: World):
    add_tenant(world, "acme", plan="free")
    world.tenants.set_overrides("acme", [limit("api_calls", Window.DAY, 10)], actor="key_admin")
    tenant, overrides, effective, api_rate = world.tenants.limits_view("acme")
    assert tenant.id == "acme" and len(overrides) == 1
    assert [(e.limit.window, e.source) for e in effective] == [(Window.DAY, "override"), (Window.MONTH, "plan")]
    assert api_rate == rate(10, 20)
    add_tenant(world, "bare")
    assert world.tenants.limits_view("bare")[2:] == ([], None)


def test_list_tenants_pages_with_opaque_cursors(world: World):
    for name in ("c", "a", "b"):
        add_tenant(world, name)
    first, cursor = world.tenants.list_tenants(2, None)
    assert [t.id for t in first] == ["a", "b"] and isinstance(cursor, str)
    rest, end = world.tenants.list_tenants(2, cursor)
    assert [t.id for t in rest] == ["c"] and end is None
    with pytest.raises(ValueError):
        world.tenants.list_tenants(2, "garbage")
