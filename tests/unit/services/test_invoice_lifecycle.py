"""Payments, voids, overdue and reminders (services.invoice_lifecycle on the fakes): partial
and whole payments, overpayment refused, a repeated reference recording nothing, moves the
state does not allow refused with 409, every move audited, the daily job run twice sending
each reminder once; and a hypothesis state machine of random, sometimes concurrent moves that
never reaches an illegal state."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.fakes.world import World
from tollgate.domain.errors import Conflict, NotFound, ValidationFailed
from tollgate.domain.invoices import InvoiceStatus, invoice_id
from tollgate.domain.plans import LateFee

from .test_invoicing import DEC, NOV, setup, usage

D = Decimal
PARIS = ZoneInfo("Europe/Paris")


def issued_world(*tenants: str) -> tuple[World, list[str]]:
    """Tenants billed for November (base fee 10 + usage 4.60 = 14.60 EUR), issued."""
    world = World()
    world.clock.at = DEC + timedelta(hours=2)
    setup(world, *((t, "Europe/Paris") for t in tenants), base_fee="10")
    ids = []
    for t in tenants:
        usage(world, t, NOV, 10_000, 4_000)
        world.invoices.bill(t, "2026-11")
        ids.append(world.invoices.finalize(invoice_id(t, "2026-11")).id)
    return world, ids


def test_an_issued_invoice_starts_with_everything_due():
    world, (inv,) = issued_world("acme")
    doc = world.stores.invoice_store.get(inv).doc
    assert (doc["total"], doc["amount_paid"], doc["amount_due"], doc["payments"]) == ("14.60", "0.00", "14.60", [])


def test_partial_then_full_payment_and_a_repeated_reference_records_nothing():
    world, (inv,) = issued_world("acme")
    life = world.invoice_lifecycle
    part = life.pay(inv, amount=D("4.60"), reference="ch_1", paid_at=None, actor="key_admin")
    assert (part.status, part.doc["amount_paid"], part.doc["amount_due"]) == (InvoiceStatus.ISSUED, "4.60", "10.00")
    again = life.pay(inv, amount=D("4.60"), reference="ch_1", paid_at=None, actor="key_admin")  # a webhook resent
    assert again.doc["amount_due"] == "10.00" and len(again.doc["payments"]) == 1
    with pytest.raises(ValidationFailed) as over:
        life.pay(inv, amount=D("10.01"), reference="ch_2", paid_at=None, actor="key_admin")
    assert over.value.errors[0].field == "amount"
    paid = life.pay(inv, amount=None, reference="ch_3", paid_at=None, actor="key_admin")  # the rest
    assert (paid.status, paid.doc["status"], paid.doc["amount_due"], paid.doc["amount_paid"]) == (
        InvoiceStatus.PAID,
        "paid",
        "0.00",
        "14.60",
    )
    assert world.invoices.download_link(inv, "html", "acme").endswith("TG-000001.html?expires_in=604800")  # still
    with pytest.raises(Conflict):
        life.pay(inv, amount=D(1), reference="ch_4", paid_at=None, actor="key_admin")
    with pytest.raises(Conflict):
        life.void(inv, reason="too late", actor="key_admin")
    actions = [e.action for e in world.stores.invoice_store.audit]
    assert actions == ["invoice.issue", "invoice.pay", "invoice.pay"]  # the repeat and refusals wrote nothing
    assert world.stores.invoice_store.audit[0].after == {"invoice_id": inv, "status": "issued", "number": "TG-000001"}
    assert world.stores.invoice_store.audit[-1].after["status"] == "paid"


@pytest.mark.parametrize("amount", ["0", "-1", "0.001", "abc", "NaN", "Infinity"])
def test_bad_amounts_are_422_naming_amount(amount):
    world, (inv,) = issued_world("acme")
    with pytest.raises(ValidationFailed) as caught:
        world.invoice_lifecycle.pay(inv, amount=amount, reference=None, paid_at=None, actor="k")
    assert caught.value.errors[0].field == "amount"


def test_void_keeps_the_number_and_the_period_bills_again_with_a_fresh_invoice():
    world, (inv,) = issued_world("acme")
    voided = world.invoice_lifecycle.void(inv, reason="wrong address", actor="key_admin")
    assert (voided.status, voided.number, voided.doc["void_reason"]) == (
        InvoiceStatus.VOID,
        "TG-000001",
        "wrong address",
    )
    assert world.invoices.bill("acme", "2026-11") == "invoiced"
    fresh = world.stores.invoice_store.get(invoice_id("acme", "2026-11", 1))
    assert fresh is not None and fresh.status is InvoiceStatus.DRAFT and fresh.generation == 1
    assert world.invoices.finalize(fresh.id).number == "TG-000002"  # numbers are never reused
    assert world.invoices.bill("acme", "2026-11") == "invoiced"  # the live one: no third invoice
    assert len(world.stores.invoice_store.invoices) == 2
    with pytest.raises(NotFound):
        world.invoice_lifecycle.void("in_missing", reason="x", actor="k")


def test_the_daily_job_marks_overdue_once_and_sends_each_reminder_once_even_run_twice():
    world, (inv,) = issued_world("acme")
    due = datetime.fromisoformat(world.stores.invoice_store.get(inv).doc["due_at"])
    life = world.invoice_lifecycle

    def sent() -> list[tuple[str, object]]:
        return sorted((p.event["type"], p.event.get("offset_days")) for p in world.stores.notifier.published[1:])

    world.clock.at = due - timedelta(days=4)
    assert life.daily(world.clock.at).summary() == {"overdue": 0, "reminders": 0, "late_fees": 0}
    world.clock.at = due - timedelta(days=2)
    for _ in range(2):  # the same day twice: a rerun, a redelivery
        life.daily(world.clock.at)
    assert sent() == [("invoice.reminder", -3)]
    world.clock.at = due + timedelta(days=1, hours=1)
    assert life.daily(world.clock.at).summary() == {"overdue": 1, "reminders": 1, "late_fees": 0}
    assert life.daily(world.clock.at).summary() == {"overdue": 0, "reminders": 0, "late_fees": 0}
    assert world.stores.invoice_store.get(inv).status is InvoiceStatus.OVERDUE
    assert sent() == [("invoice.overdue", None), ("invoice.reminder", -3), ("invoice.reminder", 1)]
    life.pay(inv, amount=None, reference="late", paid_at=None, actor="k")  # overdue -> paid
    world.clock.at = due + timedelta(days=8)
    assert life.daily(world.clock.at).summary() == {"overdue": 0, "reminders": 0, "late_fees": 0}  # paid: no +7
    notes = world.notifications.list("acme", unread=None, type_="invoice.reminder", limit=50, cursor=None)
    assert len(notes.items) == 2


class LifecycleMachine(RuleBasedStateMachine):
    """Random payments, voids and daily runs on two invoices, some from two threads at once
    (two environments on the same store). Whatever happens, the state is legal, the money
    adds up, and the audit holds one entry per move."""

    def __init__(self) -> None:
        super().__init__()
        self.world, self.ids = issued_world("acme", "beta")
        self.other = self.world.another_environment()
        self.refs = 0
        self.version0 = {i: self.world.stores.invoice_store.get(i).version for i in self.ids}

    def _pay(self, world: World, inv: str, cents: int | None) -> None:
        self.refs += 1
        amount = None if cents is None else D(cents) / 100
        with contextlib.suppress(Conflict, ValidationFailed):
            world.invoice_lifecycle.pay(inv, amount=amount, reference=f"r{self.refs}", paid_at=None, actor="k")

    @rule(which=st.integers(0, 1), cents=st.one_of(st.none(), st.integers(1, 2000)))
    def pay(self, which: int, cents: int | None) -> None:
        self._pay(self.world, self.ids[which], cents)

    @rule(which=st.integers(0, 1))
    def void(self, which: int) -> None:
        with contextlib.suppress(Conflict):
            self.world.invoice_lifecycle.void(self.ids[which], reason="r", actor="k")

    @rule(days=st.integers(0, 20))
    def daily(self, days: int) -> None:
        self.world.clock.advance(days=days)
        self.world.invoice_lifecycle.daily(self.world.clock.now())

    @rule(which=st.integers(0, 1), cents=st.integers(1, 2000))
    def concurrent_pay_and_void(self, which: int, cents: int) -> None:
        inv = self.ids[which]
        barrier = threading.Barrier(2)

        def pay() -> None:
            barrier.wait()
            self._pay(self.other, inv, cents)

        def void() -> None:
            barrier.wait()
            with contextlib.suppress(Conflict):
                self.world.invoice_lifecycle.void(inv, reason="race", actor="k")

        threads = [threading.Thread(target=pay), threading.Thread(target=void)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    @invariant()
    def legal(self) -> None:
        store = self.world.stores.invoice_store
        for inv_id in self.ids:
            inv = store.get(inv_id)
            doc = inv.doc
            assert inv.status in (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE, InvoiceStatus.PAID, InvoiceStatus.VOID)
            assert doc["status"] == inv.status.value
            assert D(doc["amount_paid"]) + D(doc["amount_due"]) == D(doc["total"])
            assert D(doc["amount_due"]) >= 0 and (inv.status is not InvoiceStatus.PAID or D(doc["amount_due"]) == 0)
            assert D(doc["amount_paid"]) == sum((D(p["amount"]) for p in doc["payments"]), D(0))
            moves = [e for e in store.audit if e.before["invoice_id"] == inv_id and e.action != "invoice.issue"]
            assert len(moves) == inv.version - self.version0[inv_id]
            assert [e.after["status"] for e in moves[-1:]] in ([], [inv.status.value])


LifecycleMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
TestLifecycle = LifecycleMachine.TestCase


def late_world() -> tuple[World, str]:
    """acme's November invoice (14.60 EUR) issued, on a plan with a 10 % late fee after 5 days."""
    world, (inv,) = issued_world("acme")
    plan = world.stores.plan_repo.items["pro"]
    world.stores.plan_repo.items["pro"] = replace(plan, late_fee=LateFee("percentage", D(10), 5))
    world.catalog.invalidate_plan("pro")
    return world, inv


def test_a_late_fee_accrues_once_and_the_next_invoice_charges_it_once():
    world, inv = late_world()
    store, life = world.stores.invoice_store, world.invoice_lifecycle
    due = datetime.fromisoformat(store.get(inv).doc["due_at"])
    world.clock.at = due + timedelta(days=1)
    life.daily(world.clock.at)
    assert store.get(inv).status is InvoiceStatus.OVERDUE and "late_fee_pending" not in store.get(inv).doc
    life.pay(inv, amount=D("4.60"), reference="part", paid_at=None, actor="k")
    world.clock.at = due + timedelta(days=5, hours=1)
    assert life.daily(world.clock.at).late_fees == 1
    assert life.daily(world.clock.at).late_fees == 0  # once
    pending = store.get(inv).doc["late_fee_pending"]
    assert pending["amount"] == "1.00"  # 10 % of the 10.00 still due
    assert store.audit[-1].action == "invoice.late_fee"
    # December's invoice charges it, as its own line; January's does not again
    usage(world, "acme", datetime(2026, 12, 1, tzinfo=PARIS), 10_000, 4_000)
    world.clock.at = datetime(2027, 1, 1, 3, tzinfo=PARIS)
    world.invoices.bill("acme", "2026-12")
    december = world.invoices.finalize(invoice_id("acme", "2026-12"))
    fees = [line for line in december.doc["lines"] if line["type"] == "late_fee"]
    assert [(f["amount"], f["number"]) for f in fees] == [("1.00", "TG-000001")]
    assert december.doc["total"] == "15.60" and store.charged == {inv: december.number}
    world.clock.at = datetime(2027, 2, 1, 3, tzinfo=PARIS)
    world.invoices.bill("acme", "2027-01")  # base fee only
    january = world.invoices.finalize(invoice_id("acme", "2027-01"))
    assert all(line["type"] != "late_fee" for line in january.doc["lines"])
    assert store.get(inv).doc["late_fee_pending"]["amount"] == "1.00"  # still shown where it accrued


def test_a_late_fee_is_charged_once_when_two_invoices_race_or_the_issue_crashes():
    world, inv = late_world()
    store, life = world.stores.invoice_store, world.invoice_lifecycle
    due = datetime.fromisoformat(store.get(inv).doc["due_at"])
    life.daily(due + timedelta(days=6))  # overdue, then the fee
    world.clock.at = due + timedelta(days=6, minutes=1)
    assert store.get(inv).doc.get("late_fee_pending")
    # December and a re-billed January draft both want the fee: whichever issues first takes it
    for start in (datetime(2026, 12, 1, tzinfo=PARIS), datetime(2027, 1, 1, tzinfo=PARIS)):
        usage(world, "acme", start, 10_000, 4_000)
    world.clock.at = datetime(2027, 2, 1, 3, tzinfo=PARIS)
    for period in ("2026-12", "2027-01"):
        world.invoices.bill("acme", period)
    crashed = {"armed": True}

    def crash() -> None:
        if crashed["armed"]:
            crashed["armed"] = False
            raise RuntimeError("died after the commit")

    store.after_issue = crash
    with pytest.raises(RuntimeError):
        world.invoices.finalize(invoice_id("acme", "2026-12"))
    first = world.invoices.finalize(invoice_id("acme", "2026-12"))  # the retry: issued already
    second = world.invoices.finalize(invoice_id("acme", "2027-01"))
    charged = [i.number for i in (first, second) for line in i.doc["lines"] if line["type"] == "late_fee"]
    assert charged == [first.number] and store.charged == {inv: first.number}
