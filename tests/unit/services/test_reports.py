"""Monthly reports on the fakes (services.reports, domain.reports): each tenant's own month,
usage against its monthly limit, overage units and cost, the period's invoice; the summary
(totals per meter, plan distribution, tenants over, revenue per currency from issued, paid and
overdue invoices only); CSV cells neutralised; one report.ready per period."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.world import World
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.invoices import InvoiceStatus, StoredInvoice, invoice_id
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window
from tollgate.domain.plans import Limit, Plan
from tollgate.domain.pricing import Charge, Model
from tollgate.domain.records import Meter, Tenant
from tollgate.domain.reports import report_alert_id
from tollgate.services import reports as reports_module

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 2, tzinfo=UTC)  # November has ended in every zone
D = Decimal
NAMES = ['=HYPERLINK("http://x")', "+1", "-2", "@a", "\tt", "\rr", "-2+A1"]
NEUTRALISED = ["'" + n if n != "-2" else n for n in NAMES]  # a plain number is not a formula (safe_cell)


def _tenant(world: World, tid: str, plan: str | None, zone: str = "UTC", name: str | None = None, **kw: Any) -> None:
    at = kw.pop("created_at", T0)
    world.stores.tenant_repo.create(
        Tenant(id=tid, name=name or tid.title(), created_at=at, updated_at=at, plan=plan, timezone=zone)
    )


def _usage(world: World, tid: str, meter: str, zone: str, month: int, value: str) -> None:
    start = datetime(2026, month, 1, tzinfo=ZoneInfo(zone))
    world.stores.counter_reader.put_total(tid, meter, Window.MONTH, start, value)


def _invoice(world: World, tid: str, status: InvoiceStatus, total: str, currency: str, generation: int = 0) -> None:
    number = None if status is InvoiceStatus.DRAFT else f"TG-{tid}-{generation}"
    world.stores.invoice_store.create_draft(
        StoredInvoice(
            id=invoice_id(tid, "2026-11", generation),
            tenant_id=tid,
            period="2026-11",
            status=status,
            currency=currency,
            doc={"total": total, "currency": currency},
            created_at=NOW,
            updated_at=NOW,
            number=number,
            generation=generation,
        )
    )


@pytest.fixture
def world() -> World:
    w = World()
    w.clock.at = NOW
    s = w.stores
    for key in ("calls", "storage"):
        s.meter_repo.create(Meter(key=key, name=key, aggregation=Aggregation.SUM, created_at=T0))
    calls_month = Limit("calls", Window.MONTH, D(1000))
    pro = Plan(
        "pro",
        "Pro",
        (calls_month, Limit("calls", Window.DAY, D(100))),
        None,
        T0,
        T0,
        currency="USD",
        charges=(
            Charge("calls", Model.PER_UNIT, unit_amount=D("0.01"), free_units=D(1000)),
            Charge("storage", Model.PER_UNIT, unit_amount=D("0.5")),
        ),
    )
    s.plan_repo.items["pro"] = pro
    s.plan_repo.items["free"] = Plan("free", "Free", (Limit("calls", Window.MONTH, D(100)),), None, T0, T0)
    _tenant(w, "acme", "pro")
    _usage(w, "acme", "calls", "UTC", 11, "1500")
    _usage(w, "acme", "calls", "UTC", 10, "99999")  # another month: not reported
    _usage(w, "acme", "storage", "UTC", 11, "10")
    _tenant(w, "beta", "free", "Asia/Tokyo")
    _usage(w, "beta", "calls", "Asia/Tokyo", 11, "80")
    _usage(w, "beta", "calls", "Asia/Tokyo", 12, "7777")  # December in Tokyo: not reported
    for i, name in enumerate(NAMES):
        _tenant(w, f"evil{i}", None, name=name)
    # created after November ended in its zone: not in November's report, unless it has usage there
    late = datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    _tenant(w, "late", "pro", "Asia/Tokyo", created_at=late)
    _tenant(w, "backdated", None, "Asia/Tokyo", created_at=late)
    w.stores.overrides_repo.items["backdated"] = ((Limit("storage", Window.MONTH, D(5)),), T0)
    _usage(w, "backdated", "storage", "Asia/Tokyo", 11, "2")
    _invoice(w, "acme", InvoiceStatus.VOID, "3.00", "USD")
    _invoice(w, "acme", InvoiceStatus.ISSUED, "20.00", "USD", generation=1)
    _invoice(w, "beta", InvoiceStatus.PAID, "7.50", "EUR")
    _invoice(w, "evil0", InvoiceStatus.OVERDUE, "1.25", "USD")
    _invoice(w, "evil1", InvoiceStatus.DRAFT, "100.00", "USD")
    _invoice(w, "evil2", InvoiceStatus.VOID, "50.00", "USD")
    return w


def _report(world: World) -> dict[str, Any]:
    world.reports.generate("2026-11")
    return json.loads(world.stores.blobs.objects["reports/2026-11.json"][0])


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["tenant"]: r for r in report["tenants"]}


def test_a_row_is_the_tenants_own_month_against_its_monthly_limit(world: World):
    rows = _rows(_report(world))
    assert "late" not in rows  # made after November, nothing in it
    assert rows["backdated"]["meters"][0]["usage"] == "2"  # made after November, with usage in it
    acme = rows["acme"]
    assert (acme["plan"], acme["health"], acme["timezone"]) == ("pro", "critical", "UTC")
    assert acme["meters"] == [
        {
            "meter": "calls",
            "usage": "1500",
            "limit": "1000",
            "percent": "150.0",
            "overage_units": "500",
            "overage_cost": "5.00",  # 500 above the free 1,000 at 0.01
            "currency": "USD",
        },
        {
            "meter": "storage",
            "usage": "10",
            "limit": None,
            "percent": None,
            "overage_units": "0",
            "overage_cost": None,
            "currency": None,
        },
    ]
    # the live invoice, not the voided one
    assert acme["invoice"] == {
        "id": invoice_id("acme", "2026-11", 1),
        "number": "TG-acme-1",
        "total": "20.00",
        "currency": "USD",
        "status": "issued",
    }
    beta = rows["beta"]
    assert beta["health"] == "caution"  # 80 of 100
    assert beta["meters"] == [
        {
            "meter": "calls",
            "usage": "80",
            "limit": "100",
            "percent": "80.0",
            "overage_units": "0",
            "overage_cost": None,  # the free plan prices nothing
            "currency": None,
        }
    ]
    assert rows["evil3"] == {
        "tenant": "evil3",
        "name": "@a",
        "plan": None,
        "timezone": "UTC",
        "health": "healthy",
        "meters": [],
        "invoice": None,
    }


def test_the_summary_counts_plans_overages_and_revenue_per_currency(world: World):
    report = _report(world)
    assert report["period"] == "2026-11" and report["timezone"] == "UTC"
    assert report["generated_at"] == NOW.isoformat()
    assert report["summary"] == {
        "meters": {"calls": "1580", "storage": "12"},
        "plans": {"(none)": 8, "free": 1, "pro": 1},
        "tenants": 10,
        "tenants_with_overages": 1,
        # issued 20.00 + overdue 1.25; paid 7.50 EUR; the draft and the voids are not revenue
        "revenue": {"EUR": "7.50", "USD": "21.25"},
    }


def test_the_csv_has_a_row_per_tenant_and_meter_and_no_formula_cells(world: World):
    world.reports.generate("2026-11")
    body, kind = world.stores.blobs.objects["reports/2026-11.csv"]
    assert kind == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(body.decode(), newline="")))
    head, rows = table[0], table[1:]
    assert head[:7] == ["period", "tenant", "name", "plan", "timezone", "health", "meter"]
    assert len(rows) == 2 + 1 + 1 + len(NAMES)  # acme's two meters, beta's and backdated's one, one each without
    by = {(r[1], r[6]): dict(zip(head, r, strict=True)) for r in rows}
    assert by[("acme", "calls")]["overage_cost"] == "5.00"
    assert by[("acme", "calls")]["invoice_number"] == "TG-acme-1"
    names = {r[1]: r[2] for r in rows}
    assert [names[f"evil{i}"] for i in range(len(NAMES))] == NEUTRALISED
    for r in rows:
        for cell in r:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), r
            assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit(), r


def test_the_job_writes_both_files_then_publishes_report_ready_once(world: World):
    first = world.reports.publish("2026-11")
    again = world.reports.publish("2026-11")  # a redelivered or rerun job
    assert set(world.stores.blobs.objects) >= {"reports/2026-11.json", "reports/2026-11.csv"}
    assert first.tenants == again.tenants == 10
    published = world.stores.notifier.published
    assert [p.id for p in published] == [report_alert_id("2026-11")]
    doc = published[0].event
    assert doc["type"] == "report.ready" and doc["tenant_id"] is None
    assert doc["period"] == "2026-11" and doc["tenants"] == 10 and doc["tenants_with_overages"] == 1
    assert doc["revenue"] == {"EUR": "7.50", "USD": "21.25"}
    assert doc["links"]["json"].startswith("https://blobs.invalid/reports/2026-11.json?")
    assert doc["links"]["csv"].startswith("https://blobs.invalid/reports/2026-11.csv?")
    assert published[0].subject == "Tollgate: the report of 2026-11 is ready (10 tenants)"
    assert world.stores.tenant_topics.published == []  # the operators' news only


def test_a_failed_publish_is_retried_by_the_rerun_and_published_once(world: World):
    class Once:
        def __init__(self) -> None:
            self.failed = False

        def check(self, what: str) -> None:
            if not self.failed:
                self.failed = True
                raise ConnectionError(what)

    world.stores.notifier.faults = Once()
    with pytest.raises(ConnectionError):
        world.reports.publish("2026-11")
    assert world.stores.notifier.published == []
    world.reports.publish("2026-11")
    world.reports.publish("2026-11")
    assert [p.id for p in world.stores.notifier.published] == [report_alert_id("2026-11")]


@pytest.mark.parametrize(
    ("now", "ok"),
    [(datetime(2026, 12, 1, 11, 59, 59, tzinfo=UTC), False), (datetime(2026, 12, 1, 12, tzinfo=UTC), True)],
)
def test_a_period_is_reported_once_it_has_ended_in_every_zone(world: World, now: datetime, ok: bool):
    world.clock.at = now
    if ok:
        world.reports.check_ready("2026-11")
        return
    with pytest.raises(ValidationFailed) as caught:
        world.reports.generate("2026-11")
    assert [e.field for e in caught.value.errors] == ["period"]


@pytest.mark.parametrize(
    ("zone", "as_of", "period"),
    [
        ("UTC", datetime(2026, 12, 1, 13, tzinfo=UTC), "2026-11"),
        ("Pacific/Kiritimati", datetime(2026, 12, 1, 13, tzinfo=UTC), "2026-11"),  # Dec 2nd there
        ("Etc/GMT+12", datetime(2026, 12, 1, 13, tzinfo=UTC), "2026-11"),  # 01:00 Dec 1st there
        ("Etc/GMT+12", datetime(2026, 12, 1, 11, tzinfo=UTC), "2026-10"),  # still November there
        ("UTC", datetime(2027, 1, 1, 13, tzinfo=UTC), "2026-12"),
    ],
)
def test_the_operators_zone_names_the_month_the_job_reports(zone: str, as_of: datetime, period: str):
    from tollgate.services.reports import ReportService, ReportSettings

    w, s = World(), World().stores
    reports = ReportService(
        s.tenant_repo, w.catalog, w.usage, s.invoice_store, s.blobs, w.alerts, s.clock, ReportSettings(timezone=zone)
    )
    assert reports.due_period(as_of) == period


def test_report_ready_is_the_operators_news_and_no_tenant_subscribes_to_it():
    from tollgate.domain.alert_types import ALERT_TYPES
    from tollgate.domain.alerts import for_operators

    assert for_operators("report.ready") and not for_operators("invoice.ready")
    assert "report.ready" not in ALERT_TYPES


def test_get_answers_small_reports_inline_and_big_ones_with_a_link(world: World, monkeypatch):
    served = world.reports.fetch("2026-11", "json")
    assert served.url is None and json.loads(served.body or b"")["summary"]["tenants"] == 10
    world.stores.tenant_repo.create(Tenant(id="zed", name="Zed", created_at=T0, updated_at=T0))
    assert json.loads(world.reports.fetch("2026-11", "json").body or b"")["summary"]["tenants"] == 10  # stored
    assert json.loads(world.reports.fetch("2026-11", "json", refresh=True).body or b"")["summary"]["tenants"] == 11
    monkeypatch.setattr(reports_module, "INLINE_BYTES", 100)
    big = world.reports.fetch("2026-11", "csv")
    assert big.body is None and big.url is not None and "reports/2026-11.csv" in big.url
