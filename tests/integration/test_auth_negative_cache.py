"""The authorizer remembers, per instance and for AUTH_CACHE_TTL_SECONDS, that a key id is
unknown: repeats of one unknown key cost one table read, not one each (bounded, LRU)."""

from __future__ import annotations

import pytest

from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tests.integration.routing import RoutedApi

UNKNOWN = "tg_0123456789abcdef_" + "s" * 43


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world(fresh_aws, monkeypatch):
    from tollgate.adapters.models import ApiKeyModel

    api = RoutedApi()  # a new authorizer environment: its key cache starts empty
    clock = Clock()
    monkeypatch.setattr(api.root_of("AuthorizerFunction").keys._records, "_clock", clock)
    reads: list[str] = []
    real_get = ApiKeyModel.get.__func__

    def counting_get(cls, hash_key, *args, **kwargs):
        reads.append(hash_key)
        return real_get(cls, hash_key, *args, **kwargs)

    monkeypatch.setattr(ApiKeyModel, "get", classmethod(counting_get))
    return api, reads, clock


def test_n_lookups_of_one_unknown_key_cost_one_read(world):
    api, reads, clock = world
    for _ in range(50):
        assert api.authorize({"Authorization": f"Bearer {UNKNOWN}"}) == {"error": "invalid"}
    assert reads == ["key_0123456789abcdef"]


def test_the_miss_is_forgotten_after_the_ttl(world):
    api, reads, clock = world
    ttl = api.root_of("AuthorizerFunction").settings.auth_cache_ttl_seconds
    api.authorize({"X-Api-Key": UNKNOWN})
    clock.t += ttl - 1
    api.authorize({"X-Api-Key": UNKNOWN})
    assert len(reads) == 1
    clock.t += 2
    api.authorize({"X-Api-Key": UNKNOWN})
    assert len(reads) == 2


def test_a_key_created_on_this_instance_is_usable_at_once(world):
    """A preset key presented before it exists, then created: the miss is dropped."""
    from tollgate.domain.keys import Scope

    api, reads, clock = world
    assert api.authorize({"X-Api-Key": UNKNOWN}) == {"error": "invalid"}
    api.root_of("AuthorizerFunction").keys.create_key(Scope.ADMIN, key=UNKNOWN)  # on this instance
    assert api.authorize({"X-Api-Key": UNKNOWN})["scope"] == "admin"


def test_the_misses_are_bounded_least_recently_used_first():
    from tollgate.services.catalog import TtlCache

    loads: list[str] = []
    clock = Clock()
    cache = TtlCache[str](lambda k: loads.append(k) or None, ttl=60, clock=clock, miss_ttl=60, max_misses=3)
    for k in ("a", "b", "c", "a", "d"):  # "d" evicts "b", the least recently used
        assert cache.get(k) is None
    assert loads == ["a", "b", "c", "d"]
    for k in ("a", "c", "d"):
        cache.get(k)
    assert loads == ["a", "b", "c", "d"]
    cache.get("b")
    assert loads == ["a", "b", "c", "d", "b"]


def test_found_values_are_still_cached_and_misses_off_by_default():
    from tollgate.services.catalog import TtlCache

    loads: list[str] = []
    cache = TtlCache[str](lambda k: loads.append(k) or (k.upper() if k != "x" else None), ttl=60)
    assert [cache.get("a"), cache.get("a"), cache.get("x"), cache.get("x")] == ["A", "A", None, None]
    assert loads == ["a", "x", "x"]  # misses not cached: a new tenant or meter is usable at once
