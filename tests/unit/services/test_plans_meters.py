"""PlanService and MeterService on the fakes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.world import World
from tollgate.domain.audit import SYSTEM_ACTOR, Action, plan_subject
from tollgate.domain.errors import Conflict, NotFound, ValidationFailed
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.pricing import Charge, Model, Tier
from tollgate.services.plans import default_catalog

from .conftest import add_meter, add_plan, add_tenant, limit, rate

DEFAULT_IDS = [p["id"] for p in default_catalog()]


def test_seed_default_catalog_is_idempotent(world: World):
    assert world.plans.seed_default_catalog() == DEFAULT_IDS
    plans = {pid: world.plans.get_plan(pid) for pid in DEFAULT_IDS}
    entries = list(world.stores.audit_log.entries)
    assert [(e.subject, e.actor, e.action) for e in entries] == [
        (plan_subject(pid), SYSTEM_ACTOR, Action.PLAN_PUT) for pid in DEFAULT_IDS
    ]
    assert plans["free"].api_rate_limit == rate(10, 20)

    world.clock.advance(seconds=60)
    assert world.plans.seed_default_catalog() == []
    assert {pid: world.plans.get_plan(pid) for pid in DEFAULT_IDS} == plans  # not rewritten
    assert world.stores.audit_log.entries == entries


def test_seed_never_overwrites_an_operators_plan(world: World):
    add_plan(world, "free", [limit("api_calls", Window.MONTH, 7)], rate(1, 2))
    mine = world.plans.get_plan("free")
    assert world.plans.seed_default_catalog() == [pid for pid in DEFAULT_IDS if pid != "free"]
    assert world.plans.get_plan("free") == mine


def test_put_plan_creates_then_replaces_with_audit_entries(world: World):
    plan, created = world.plans.put_plan(
        "pro", "Pro", [limit("storage_gb", Window.LIFETIME, 5), limit("api_calls", Window.MONTH, 9)], None, "key_a"
    )
    assert created and plan.created_at == plan.updated_at == world.clock.now()
    assert [lim.meter for lim in plan.limits] == ["api_calls", "storage_gb"]
    assert world.catalog.plan("pro") == plan  # cached now

    world.clock.advance(seconds=1)  # well within the catalog's TTL
    replaced, created = world.plans.put_plan("pro", "Pro 2", [], rate(3, 6), "key_b", reason="simplify")
    assert not created
    assert replaced.created_at == plan.created_at and replaced.updated_at == world.clock.now()
    assert world.catalog.plan("pro") == replaced  # invalidated in this environment at once
    first, second = world.stores.audit_log.of(plan_subject("pro"))
    assert (first.before, first.after) == (None, plan.as_dict())
    assert (second.before, second.after, second.reason) == (plan.as_dict(), replaced.as_dict(), "simplify")

    with pytest.raises(NotFound):
        world.plans.get_plan("gold")


def test_list_plans_pages(world: World):
    world.plans.seed_default_catalog()
    seen, cursor = [], None
    while True:
        page, cursor = world.plans.list_plans(3, cursor)
        seen += [p.id for p in page]
        if cursor is None:
            break
    assert sorted(seen) == sorted(DEFAULT_IDS) and len(seen) == len(DEFAULT_IDS)


def test_meters(world: World):
    meter = add_meter(world, "api_calls", Aggregation.COUNT, group_by=["region"])
    assert meter.created_at == world.clock.now()
    assert world.meters.get_meter("api_calls") == meter
    assert world.catalog.meter("api_calls").spec().group_by == ("region",)
    with pytest.raises(Conflict):
        add_meter(world, "api_calls", Aggregation.SUM)
    assert world.meters.get_meter("api_calls").aggregation is Aggregation.COUNT
    with pytest.raises(NotFound):
        world.meters.get_meter("nope")
    add_meter(world, "storage_gb", Aggregation.LATEST)
    page, cursor = world.meters.list_meters(1, None)
    rest, end = world.meters.list_meters(1, cursor)
    assert [m.key for m in page + rest] == ["api_calls", "storage_gb"] and end is None


def test_limits_on_windows_a_unique_count_meter_is_not_counted_in_are_refused(world: World):
    from tollgate.domain.errors import ValidationFailed

    from .conftest import add_tenant, fields_of

    add_meter(world, "users", Aggregation.UNIQUE_COUNT)
    ok = [limit("users", Window.MONTH, 100), limit("users", Window.DAY, 10), limit("users", Window.LIFETIME, 1000)]
    hourly = [limit("api_calls", Window.HOUR, 5), limit("users", Window.HOUR, 5), limit("users", Window.MINUTE, 1)]
    assert world.plans.put_plan("pro", "Pro", ok, None, "key_a")[1]
    with pytest.raises(ValidationFailed) as exc:
        world.plans.put_plan("pro", "Pro", hourly, None, "key_a")
    assert fields_of(exc.value) == ["limits[1].window", "limits[2].window"]
    add_tenant(world, "acme", plan="pro")
    with pytest.raises(ValidationFailed) as exc:
        world.tenants.set_overrides("acme", hourly[1:], actor="key_a")
    assert fields_of(exc.value) == ["limits[0].window", "limits[1].window"]
    assert world.tenants.get_overrides("acme") == ()
    # A meter that does not exist yet is not checked (limits may name it first).
    assert world.plans.put_plan("later", "Later", [limit("visitors", Window.HOUR, 5)], None, "key_a")[1]


# ------------------------------------------------------------------ prices (issue 11)
def bad_fields(call) -> set[str]:
    with pytest.raises(ValidationFailed) as exc:
        call()
    return {e.field for e in exc.value.errors}


def test_a_plan_without_prices_has_the_defaults(world: World):
    plan, _ = world.plans.put_plan("pro", "Pro", [], None, "key_a")
    assert (plan.currency, plan.base_fee, plan.minimum_commitment, plan.charges) == ("USD", Decimal(0), None, ())
    world.plans.seed_default_catalog()
    assert {world.plans.get_plan(pid).currency for pid in DEFAULT_IDS} == {"USD"}


def test_prices_round_trip_exactly_and_are_audited(world: World):
    add_meter(world, "tokens", Aggregation.SUM, group_by=["model"])
    raw = [
        {"meter": "tokens", "model": "per_unit", "unit_amount": Decimal("0.0000025"), "filter": {"model": "gpt-4o"}},
        {"meter": "tokens", "model": "volume", "tiers": [{"up_to": 10, "unit_amount": "0.1"}, {"unit_amount": "0.05"}]},
    ]
    plan, _ = world.plans.put_plan(
        "pro",
        "Pro",
        [],
        None,
        "key_a",
        currency="JPY",
        base_fee=Decimal("500"),
        minimum_commitment=Decimal("0.10"),
        charges=raw,
    )
    assert world.plans.get_plan("pro") == plan
    assert plan.charges[0] == Charge(
        "tokens", Model.PER_UNIT, unit_amount=Decimal("0.0000025"), filter=("model", "gpt-4o")
    )
    assert plan.charges[1].tiers == (Tier(Decimal(10), Decimal("0.1")), Tier(None, Decimal("0.05")))
    (entry,) = world.stores.audit_log.of(plan_subject("pro"))
    assert entry.after["currency"] == "JPY"
    assert (entry.after["base_fee"], entry.after["minimum_commitment"]) == ("500", "0.10")  # exact text, no float
    assert entry.after["charges"][0]["unit_amount"] == "0.0000025"
    assert [Charge.from_stored(c) for c in entry.after["charges"]] == list(plan.charges)


def test_charges_are_validated_against_the_real_meters(world: World):
    add_meter(world, "calls", Aggregation.COUNT)
    add_meter(world, "tokens", Aggregation.SUM, group_by=["model"])

    def put(charges, **prices):
        return lambda: world.plans.put_plan("pro", "Pro", [], None, "key_a", charges=charges, **prices)

    assert bad_fields(put([{"meter": "ghost", "model": "per_unit", "unit_amount": 1}])) == {"charges[0].meter"}
    assert bad_fields(put([{"meter": "calls", "model": "percentage", "rate": 1}])) == {"charges[0].model"}
    assert bad_fields(put([{"meter": "tokens", "model": "per_unit", "unit_amount": 1, "filter": {"zone": "x"}}])) == {
        "charges[0].filter"
    }
    both = put([{"meter": "calls", "model": "per_unit", "unit_amount": -1}], currency="ABC", base_fee=Decimal(-1))
    assert bad_fields(both) == {"currency", "base_fee", "charges[0].unit_amount"}  # one 422 naming each
    assert world.stores.audit_log.of(plan_subject("pro")) == []


def test_a_tenants_plan_must_price_in_its_currency(world: World):
    world.plans.put_plan("eur", "Euro", [], None, "key_a", currency="EUR")
    world.plans.put_plan("usd", "Dollar", [], None, "key_a")
    assert bad_fields(lambda: add_tenant(world, "acme", plan="eur")) == {"plan"}
    add_tenant(world, "acme", plan="eur", currency="EUR")
    update = world.tenants.update_tenant
    assert bad_fields(lambda: update("acme", {"plan": "usd"}, reason="move")) == {"plan"}
    assert bad_fields(lambda: update("acme", {"currency": "USD"})) == {"currency"}
    moved = update("acme", {"plan": "usd", "currency": "USD"}, reason="move")
    assert (moved.plan, moved.currency) == ("usd", "USD")
    assert update("acme", {"plan": None}, reason="no plan").plan is None
    assert update("acme", {"currency": "GBP"}).currency == "GBP"  # no plan: any currency
