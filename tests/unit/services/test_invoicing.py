"""The invoice lifecycle on the fakes (services.invoicing, services.invoice_runs): drafts of
ended periods only, one invoice per tenant and period whatever the runs and redeliveries,
late usage refreshing the draft, gap-free numbers taken only with the issue, documents and
one invoice.ready per invoice under crashes at every step, the hourly run's zone windows, and
the preview computed as the invoice is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.world import World
from tollgate.domain.errors import NotFound, ValidationFailed
from tollgate.domain.invoices import InvoiceStatus, invoice_id
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.plans import Plan
from tollgate.domain.pricing import Charge, Model
from tollgate.domain.records import Meter, Tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
NOV = datetime(2026, 11, 1, tzinfo=PARIS)
DEC = datetime(2026, 12, 1, tzinfo=PARIS)
D = Decimal


def setup(world: World, *tenants: tuple[str, str], base_fee: str = "0") -> None:
    s = world.stores
    s.meter_repo.create(
        Meter(key="tokens", name="Tokens", aggregation=Aggregation.SUM, created_at=T0, group_by=["model"])
    )
    charges = (
        Charge("tokens", Model.PER_UNIT, unit_amount=D("0.001"), filter=("model", "gpt-4o")),
        Charge("tokens", Model.PER_UNIT, unit_amount=D("0.0001")),
    )
    plan = Plan("pro", "Pro", (), None, T0, T0, currency="EUR", base_fee=D(base_fee), charges=charges)
    s.plan_repo.items["pro"] = plan
    for tenant_id, zone in tenants:
        add_tenant(world, tenant_id, zone)


def add_tenant(world: World, tenant_id: str, zone: str = "Europe/Paris", plan: str | None = "pro") -> None:
    world.stores.tenant_repo.create(
        Tenant(
            id=tenant_id,
            name=tenant_id.title(),
            created_at=T0,
            updated_at=T0,
            plan=plan,
            currency="EUR",
            timezone=zone,
        )
    )


def usage(world: World, tenant: str, start: datetime, total: int, gpt: int) -> None:
    r = world.stores.counter_reader
    r.put_total(tenant, "tokens", Window.MONTH, start, total)
    r.put_group(tenant, "tokens", Window.MONTH, "model", "gpt-4o", start, gpt)


def drain(world: World, *, twice: bool = False) -> int:
    """Deliver every queued invoice message (each twice with ``twice``: SQS redelivers)."""
    q, handled = world.stores.invoice_queue, 0
    while handled < len(q.bodies):
        message = json.loads(q.bodies[handled])
        world.invoice_runs.handle(message)
        if twice:
            world.invoice_runs.handle(message)
        handled += 1
    return handled


@pytest.fixture
def world() -> World:
    w = World()
    w.clock.at = DEC + timedelta(hours=2)
    w.stores.tenant_topics.subscribed.update({"acme", "beta", "gamma"})  # tenants with subscribers
    setup(w, ("acme", "Europe/Paris"))
    usage(w, "acme", NOV, 10_000, 4_000)
    return w


def test_a_period_is_billed_only_once_it_has_ended_in_the_tenant_s_zone(world: World):
    world.clock.at = DEC - timedelta(minutes=1)
    with pytest.raises(ValidationFailed) as caught:
        world.invoices.bill("acme", "2026-11")
    assert caught.value.errors[0].field == "period"
    world.clock.at = DEC
    assert world.invoices.bill("acme", "2026-11") == "invoiced"


def test_a_draft_has_the_priced_lines_and_billing_twice_keeps_one_invoice(world: World):
    assert world.invoices.bill("acme", "2026-11") == "invoiced"
    assert world.invoices.bill("acme", "2026-11") == "invoiced"
    (inv,) = world.stores.invoice_store.invoices.values()
    assert inv.id == invoice_id("acme", "2026-11") and inv.status is InvoiceStatus.DRAFT and inv.number is None
    assert [(line["filter"], line["quantity"], line["amount"]) for line in inv.doc["lines"]] == [
        ({"model": "gpt-4o"}, "4000", "4.00"),
        (None, "6000", "0.60"),
    ]
    assert inv.doc["total"] == "4.60" and inv.doc["period"]["start"] == "2026-11-01T00:00:00+01:00"
    assert inv.finalize_after == DEC + world.invoice_settings.grace


def test_late_usage_refreshes_the_draft_and_finalizing_recomputes_from_the_counters(world: World):
    world.invoices.bill("acme", "2026-11")
    usage(world, "acme", NOV, 20_000, 4_000)  # late events landed in November
    world.invoices.bill("acme", "2026-11")
    inv = world.stores.invoice_store.get(invoice_id("acme", "2026-11"))
    assert inv is not None and inv.doc["total"] == "5.60" and inv.version == 2
    usage(world, "acme", NOV, 30_000, 4_000)
    issued = world.invoices.finalize(inv.id)
    assert issued.doc["total"] == "6.60" and issued.number == "TG-000001" and issued.doc["number"] == "TG-000001"
    assert issued.doc["status"] == "issued" and issued.doc["due_at"] is not None
    usage(world, "acme", NOV, 90_000, 4_000)  # an issued invoice's amounts never change
    world.invoices.bill("acme", "2026-11")
    assert world.invoices.finalize(inv.id).doc["total"] == "6.60"


def test_issue_writes_both_documents_and_one_invoice_ready_with_links(world: World):
    world.invoices.bill("acme", "2026-11")
    inv = world.invoices.finalize(invoice_id("acme", "2026-11"))
    objects = world.stores.blobs.objects
    assert set(objects) == {"invoices/acme/2026-11/TG-000001.json", "invoices/acme/2026-11/TG-000001.html"}
    assert json.loads(objects["invoices/acme/2026-11/TG-000001.json"][0])["total"] == "4.60"
    (published,) = world.stores.notifier.published
    assert published.event["type"] == "invoice.ready" and published.event["number"] == "TG-000001"
    assert published.event["links"]["html"].endswith("TG-000001.html?expires_in=604800")
    (tenant_message,) = world.stores.tenant_topics.published
    assert tenant_message.attributes["type"] == "invoice.ready"
    world.invoices.finalize(inv.id)
    assert len(world.stores.notifier.published) == 1 and world.stores.invoice_store.get(inv.id).delivered


class Boom(Exception):
    pass


def fail_once(target: object, name: str) -> None:
    original = getattr(target, name)
    state = {"armed": True}

    def broken(*args, **kwargs):
        if state["armed"]:
            state["armed"] = False
            raise Boom(name)
        return original(*args, **kwargs)

    setattr(target, name, broken)


@pytest.mark.parametrize(
    "fault",
    ["before_issue", "after_issue", "blobs.put", "notifier.publish", "store.mark_delivered", "tenant_topics.publish"],
)
def test_a_crash_at_any_step_of_finalize_leaves_no_gap_no_duplicate_and_one_invoice_ready(world: World, fault: str):
    setup_more = [("beta", "Europe/Paris"), ("gamma", "Europe/Paris")]
    for tenant_id, _ in setup_more:
        add_tenant(world, tenant_id)
        usage(world, tenant_id, NOV, 1_000, 0)
    store, s = world.stores.invoice_store, world.stores
    ids = []
    for tenant_id in ("acme", "beta", "gamma"):
        world.invoices.bill(tenant_id, "2026-11")
        ids.append(invoice_id(tenant_id, "2026-11"))
    if fault in ("before_issue", "after_issue"):
        state = {"armed": True}

        def crash() -> None:
            if state["armed"]:
                state["armed"] = False
                raise Boom(fault)

        setattr(store, fault, crash)
    else:
        owner, name = fault.split(".")
        fail_once(
            {"blobs": s.blobs, "notifier": s.notifier, "store": store, "tenant_topics": s.tenant_topics}[owner], name
        )
    for inv_id in ids:  # each retried until it succeeds, as the queue would
        for _ in range(3):
            try:
                world.invoices.finalize(inv_id)
                break
            except Boom:
                continue
    issued = sorted(store.invoices.values(), key=lambda i: i.number or "")
    assert [i.number for i in issued] == ["TG-000001", "TG-000002", "TG-000003"]
    assert store.sequences["TG"] == 3 and all(i.delivered for i in issued)
    assert sorted(p.event["number"] for p in s.notifier.published) == ["TG-000001", "TG-000002", "TG-000003"]
    assert len(s.tenant_topics.published) == 3


def test_a_crash_after_the_issue_is_finished_by_the_hourly_job(world: World):
    world.invoices.bill("acme", "2026-11")
    fail_once(world.stores.blobs, "put")
    with pytest.raises(Boom):
        world.invoices.finalize(invoice_id("acme", "2026-11"))
    assert world.stores.invoice_store.get(invoice_id("acme", "2026-11")).status is InvoiceStatus.ISSUED
    report = world.invoice_runs.scheduled(world.clock.now())
    assert report.deliver == 1
    drain(world)
    assert world.stores.invoice_store.get(invoice_id("acme", "2026-11")).delivered
    assert len(world.stores.notifier.published) == 1


def test_nothing_to_bill_and_no_plan_get_no_invoice(world: World):
    add_tenant(world, "idle", "UTC")
    add_tenant(world, "free", "UTC", plan=None)
    assert world.invoices.bill("idle", "2026-11") == "skipped"
    assert world.invoices.bill("free", "2026-11") == "skipped"
    assert invoice_id("idle", "2026-11") not in world.stores.invoice_store.invoices


def test_a_run_for_every_tenant_fans_out_and_counts_each_tenant_once_under_redelivery(world: World):
    setup_more = {"beta": 2_000, "idle": 0}
    for tenant_id, total in setup_more.items():
        add_tenant(world, tenant_id)
        if total:
            usage(world, tenant_id, NOV, total, 0)
    add_tenant(world, "free", "UTC", plan=None)
    world.clock.at = datetime(2026, 12, 2, tzinfo=UTC)  # November has ended everywhere
    run = world.invoice_runs.start("2026-11")
    drain(world, twice=True)
    done = world.invoice_runs.get(run.id)
    assert (done.status.value, done.expected, done.invoices, done.skipped, done.failed) == ("done", 3, 2, 1, 0)
    again = world.invoice_runs.start("2026-11")  # a second run: still one invoice per tenant
    drain(world)
    assert world.invoice_runs.get(again.id).invoices == 2
    assert sorted(i.tenant_id for i in world.stores.invoice_store.invoices.values()) == ["acme", "beta"]


def test_a_failure_is_counted_then_replaced_by_the_retry_s_success(world: World):
    world.clock.at = datetime(2026, 12, 2, tzinfo=UTC)
    run = world.invoice_runs.start("2026-11", "acme")
    world.invoice_runs.handle(json.loads(world.stores.invoice_queue.bodies[0]))  # the fan-out
    bill = json.loads(world.stores.invoice_queue.bodies[-1])
    assert bill["kind"] == "bill" and bill["tenant"] == "acme"
    fail_once(world.invoices, "bill")
    with pytest.raises(Boom):
        world.invoice_runs.handle(bill)
    failed = world.invoice_runs.get(run.id)
    assert (failed.invoices, failed.failed, failed.failures[0]["tenant_id"]) == (0, 1, "acme")
    world.invoice_runs.handle(bill)  # SQS redelivers
    assert (world.invoice_runs.get(run.id).invoices, world.invoice_runs.get(run.id).failed) == (1, 0)


def test_a_run_refuses_a_period_that_has_not_ended_everywhere_or_a_bad_one(world: World):
    world.clock.at = datetime(2026, 12, 1, 11, tzinfo=UTC)  # ended in Paris, not yet in UTC-12
    with pytest.raises(ValidationFailed) as caught:
        world.invoice_runs.start("2026-11")
    assert caught.value.errors[0].field == "period"
    assert world.invoice_runs.start("2026-11", "acme").tenant_id == "acme"
    for bad in ("2026-13", "26-11", "2026-1"):
        with pytest.raises(ValidationFailed):
            world.invoice_runs.start(bad)
    with pytest.raises(ValidationFailed) as unknown:
        world.invoice_runs.start("2026-11", "nobody")
    assert unknown.value.errors[0].field == "tenant"
    with pytest.raises(NotFound):
        world.invoice_runs.get("run_nope")


def test_the_hourly_run_bills_each_zone_within_an_hour_of_its_local_midnight():
    world = World()
    setup(world, ("kiri", "Pacific/Kiritimati"), ("pago", "Pacific/Pago_Pago"), ("paris", "Europe/Paris"))
    for t in ("kiri", "pago", "paris"):
        tz = ZoneInfo(world.stores.tenant_repo.get(t).timezone)
        usage(world, t, datetime(2026, 11, 1, tzinfo=tz), 1_000, 0)

    def billed() -> list[str]:
        return sorted(i.tenant_id for i in world.stores.invoice_store.invoices.values())

    def run_at(moment: datetime) -> None:
        world.clock.at = moment
        world.invoice_runs.scheduled(moment)
        drain(world)

    run_at(datetime(2026, 11, 15, 12, 5, tzinfo=UTC))  # mid-month: nothing
    assert billed() == [] and world.stores.invoice_queue.bodies == []
    run_at(datetime(2026, 11, 30, 10, 5, tzinfo=UTC))  # Kiritimati's midnight was 10:00 UTC
    assert billed() == ["kiri"]
    run_at(datetime(2026, 11, 30, 23, 5, tzinfo=UTC))  # Paris: 23:00 UTC (UTC+1)
    assert billed() == ["kiri", "paris"]
    run_at(datetime(2026, 12, 1, 11, 5, tzinfo=UTC))  # Pago Pago: 11:00 UTC (UTC-11)
    assert billed() == ["kiri", "pago", "paris"]
    assert {i.period for i in world.stores.invoice_store.invoices.values()} == {"2026-11"}


def test_drafts_past_their_grace_are_issued_by_the_hourly_run(world: World):
    world.invoices.bill("acme", "2026-11")
    world.invoice_runs.scheduled(DEC + timedelta(hours=23))
    drain(world)
    assert world.stores.invoice_store.get(invoice_id("acme", "2026-11")).status is InvoiceStatus.DRAFT
    world.clock.at = DEC + timedelta(hours=24, minutes=5)
    assert world.invoice_runs.scheduled(world.clock.at).finalize == 1
    drain(world)
    assert world.stores.invoice_store.get(invoice_id("acme", "2026-11")).number == "TG-000001"


def test_the_preview_prices_the_current_period_as_its_invoice_will(world: World):
    usage(world, "acme", DEC, 10_000, 4_000)  # the same usage in December
    world.clock.at = DEC + timedelta(days=10)
    preview = world.invoices.upcoming("acme")
    world.invoices.bill("acme", "2026-11")
    draft = world.stores.invoice_store.get(invoice_id("acme", "2026-11")).doc
    assert preview["status"] == "upcoming" and preview["number"] is None and preview["id"] is None
    assert preview["lines"] == draft["lines"] and preview["total"] == draft["total"] == "4.60"
    assert preview["period"]["start"] == "2026-12-01T00:00:00+01:00"


def test_a_tenant_reads_only_its_own_invoices(world: World):
    world.invoices.bill("acme", "2026-11")
    inv_id = invoice_id("acme", "2026-11")
    assert world.invoices.get(inv_id, "acme").tenant_id == "acme"
    with pytest.raises(NotFound):
        world.invoices.get(inv_id, "beta")
    with pytest.raises(NotFound):
        world.invoices.download_link(inv_id, "html", "beta")
