"""KeyService on the fakes: create, authenticate, revoke, and the auth cache."""

from __future__ import annotations

import pytest

from tests.fakes.world import AUTH_CACHE_TTL_S, World
from tollgate.domain import keys as keylib
from tollgate.domain.errors import NotFound, ValidationFailed
from tollgate.domain.keys import Scope

from .conftest import add_tenant, fields_of

PRESET = "tg_00112233445566ff_" + "s" * 30


def test_create_authenticate_and_list(world: World):
    add_tenant(world, "acme")
    admin, admin_key = world.keys.create_key(Scope.ADMIN, name="ops")
    tenant, tenant_key = world.keys.create_key(Scope.TENANT, tenant_id="acme")
    assert admin.created_at == world.clock.now()
    assert keylib.key_id_of(admin_key) == admin.id and admin.key_hash != admin_key
    assert admin_key not in repr(world.stores.key_repo.items)  # only the hash is stored

    result = world.keys.authenticate(admin_key)
    assert result.error is None and result.principal == admin.principal()
    assert result.principal.scope is Scope.ADMIN
    p = world.keys.authenticate(tenant_key).principal
    assert (p.scope, p.tenant_id) == (Scope.TENANT, "acme")

    listed, cursor = world.keys.list_keys(10, None)
    assert {r.id for r in listed} == {admin.id, tenant.id} and cursor is None
    assert world.keys.key_is_active(admin.id)


def test_the_scope_and_the_tenant_must_agree(world: World):
    for kwargs in ({"scope": Scope.TENANT}, {"scope": Scope.TENANT, "tenant_id": "nobody"}):
        with pytest.raises(ValidationFailed) as exc:
            world.keys.create_key(**kwargs)
        assert fields_of(exc.value) == ["tenant_id"]
    add_tenant(world, "acme")
    with pytest.raises(ValidationFailed) as exc:
        world.keys.create_key(Scope.ADMIN, tenant_id="acme")
    assert fields_of(exc.value) == ["tenant_id"]
    assert world.stores.key_repo.items == {}


def test_authenticate_refuses_missing_malformed_and_wrong_keys(world: World):
    record, key = world.keys.create_key(Scope.INGEST)
    assert world.keys.authenticate(None).error == "missing"
    assert world.keys.authenticate("").error == "missing"
    assert world.keys.authenticate("not-a-key").error == "invalid"
    wrong_secret = key[: key.rindex("_") + 1] + "x" * 43
    assert keylib.key_id_of(wrong_secret) == record.id
    assert world.keys.authenticate(wrong_secret) == world.keys.authenticate("tg_0000000000000000_" + "y" * 43)
    assert world.keys.authenticate(wrong_secret).principal is None


def test_revoke(world: World):
    record, key = world.keys.create_key(Scope.INGEST)
    world.clock.advance(seconds=3)
    revoked = world.keys.revoke_key(record.id)
    assert revoked.revoked_at == world.clock.now()
    assert not world.keys.key_is_active(record.id)  # consistent: at once, in every environment
    assert world.stores.key_repo.get(record.id).revoked_at == world.clock.now()
    # An environment that had not cached the record refuses it at once.
    assert world.another_environment().keys.authenticate(key).error == "revoked"

    world.clock.advance(seconds=3)
    assert world.keys.revoke_key(record.id).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(NotFound):
        world.keys.revoke_key("key_0000000000000000")
    assert not world.keys.key_is_active("key_0000000000000000")


def test_a_revocation_reaches_a_cached_record_within_the_ttl(world: World):
    record, key = world.keys.create_key(Scope.INGEST)
    other = world.another_environment()
    assert other.keys.authenticate(key).principal is not None  # cached there
    world.keys.revoke_key(record.id)
    other.clock.advance(seconds=AUTH_CACHE_TTL_S)
    assert other.keys.authenticate(key).error == "revoked"


def test_unknown_keys_cost_one_read_per_ttl(world: World):
    unknown = "tg_aaaaaaaaaaaaaaaa_" + "z" * 43
    key_id = keylib.key_id_of(unknown)
    reads = world.stores.key_repo.reads
    for _ in range(5):
        assert world.keys.authenticate(unknown).error == "invalid"
    assert reads[key_id] == 1
    world.clock.advance(seconds=AUTH_CACHE_TTL_S - 0.001)
    world.keys.authenticate(unknown)
    assert reads[key_id] == 1
    world.clock.advance(seconds=0.001)
    world.keys.authenticate(unknown)
    assert reads[key_id] == 2


def test_found_records_are_cached_too(world: World):
    record, key = world.keys.create_key(Scope.INGEST)
    reads = world.stores.key_repo.reads
    before = reads[record.id]
    for _ in range(5):
        assert world.keys.authenticate(key).principal is not None
    assert reads[record.id] == before + 1


def test_a_preset_key(world: World):
    other = world.another_environment()
    assert world.keys.authenticate(PRESET).error == "invalid"  # the miss is cached here...
    assert other.keys.authenticate(PRESET).error == "invalid"  # ...and there
    record, key = world.keys.create_key(Scope.ADMIN, name="local", key=PRESET)
    assert key == PRESET and record.id == "key_00112233445566ff"
    assert record.key_hash == keylib.hash_key(PRESET)
    # create_key forgets the miss in its own environment only.
    assert world.keys.authenticate(PRESET).principal == record.principal()
    assert other.keys.authenticate(PRESET).error == "invalid"
    other.clock.advance(seconds=AUTH_CACHE_TTL_S)
    assert other.keys.authenticate(PRESET).principal == record.principal()

    again, again_key = world.keys.create_key(Scope.ADMIN, name="local", key=PRESET)
    assert again == record and again_key == PRESET
    assert list(world.stores.key_repo.items) == [record.id]


@pytest.mark.parametrize("bad", ["secret", "tg_zz112233445566ff_" + "s" * 30, "tg_00112233445566ff_short"])
def test_a_preset_key_must_look_like_one_of_ours(world: World, bad):
    with pytest.raises(ValidationFailed) as exc:
        world.keys.create_key(Scope.ADMIN, key=bad)
    assert fields_of(exc.value) == ["key"]
    assert world.stores.key_repo.items == {}
