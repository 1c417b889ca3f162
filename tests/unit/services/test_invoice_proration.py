"""A plan change mid-period on the fakes (services.invoicing with domain.proration): the
plan change recorded by PATCH-ing the tenant (its audit entry) splits the invoice, each plan's
base fee prorated and its charges pricing its own days; the preview shows the same split; a
plan given at creation covers the whole period."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.fakes.world import World
from tollgate.domain.invoices import invoice_id
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window

PARIS = ZoneInfo("Europe/Paris")
NOV, DEC = datetime(2026, 11, 1, tzinfo=PARIS), datetime(2026, 12, 1, tzinfo=PARIS)


def world_with_a_change() -> World:
    world = World()
    world.clock.at = datetime(2026, 10, 20, tzinfo=PARIS)
    world.meters.create_meter({"key": "tokens", "name": "Tokens", "aggregation": Aggregation.SUM})
    for plan_id, fee, unit in (("pro", 10, "0.001"), ("max", 30, "0.0005")):
        charges = [{"meter": "tokens", "model": "per_unit", "unit_amount": unit}]
        world.plans.put_plan(plan_id, plan_id.title(), [], None, actor="k", base_fee=Decimal(fee), charges=charges)
    world.tenants.create_tenant({"id": "acme", "name": "Acme", "timezone": "Europe/Paris", "plan": "pro"}, actor="k")
    r = world.stores.counter_reader
    for day, amount in ((10, 1000), (20, 2000)):
        r.put_total("acme", "tokens", Window.DAY, datetime(2026, 11, day, tzinfo=PARIS), amount)
    r.put_total("acme", "tokens", Window.MONTH, NOV, 3000)
    world.clock.at = datetime(2026, 11, 16, tzinfo=PARIS)  # half of a 30-day November
    world.tenants.update_tenant("acme", {"plan": "max"}, actor="key_admin", reason="upgrade")
    return world


def test_each_plan_bills_its_share_of_the_fee_and_its_own_usage():
    world = world_with_a_change()
    world.clock.at = DEC + timedelta(hours=2)
    world.invoices.bill("acme", "2026-11")
    doc = world.stores.invoice_store.get(invoice_id("acme", "2026-11")).doc
    assert [(line["type"], line.get("plan"), line["amount"]) for line in doc["lines"]] == [
        ("base_fee", "pro", "5.00"),
        ("base_fee", "max", "15.00"),
        ("charge", "pro", "1.00"),
        ("charge", "max", "1.00"),
    ]
    assert (
        doc["lines"][0]["share"] == "0.500000"
        and "Pro, 2026-11-01 00:00 – 2026-11-16 00:00" in doc["lines"][0]["description"]
    )
    assert doc["total"] == "22.00" and doc["plan"] == "max"


def test_the_preview_shows_the_split_so_far():
    world = world_with_a_change()
    world.clock.at = datetime(2026, 11, 25, tzinfo=PARIS)
    preview = world.invoices.upcoming("acme")
    assert [(line["type"], line.get("plan")) for line in preview["lines"]] == [
        ("base_fee", "pro"),
        ("base_fee", "max"),
        ("charge", "pro"),
        ("charge", "max"),
    ]


def test_a_plan_given_at_creation_covers_the_whole_period():
    world = World()
    world.clock.at = datetime(2026, 11, 20, tzinfo=PARIS)
    world.plans.put_plan("pro", "Pro", [], None, actor="k", base_fee=Decimal(10))
    world.tenants.create_tenant({"id": "acme", "name": "Acme", "timezone": "Europe/Paris", "plan": "pro"}, actor="k")
    world.clock.at = DEC + timedelta(hours=2)
    world.invoices.bill("acme", "2026-11")
    doc = world.stores.invoice_store.get(invoice_id("acme", "2026-11")).doc
    assert [(line["type"], line["amount"]) for line in doc["lines"]] == [("base_fee", "10.00")]
