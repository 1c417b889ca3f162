"""The monthly report job on moto, through its handler (functions/reports/app.py) and the real
tables, counters, bucket and topic:

- the scheduled event reports the month before, in both formats, and report.ready reaches an
  SQS subscriber of the operators' topic once, with links to the two objects;
- a fault at every AWS call of the job in turn (before it is sent, or its answer lost), the
  job rerun until it succeeds and the alert sweep run past the lease, leaves both files
  complete and one report.ready (two copies of the same id only where SNS itself cannot do
  better: a publish whose answer, or whose mark, was lost: docs/alerts.md)."""

from __future__ import annotations

import csv
import inspect
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError

from tests.conftest import ROOT, FakeContext
from tests.integration.moto_world import empty_tables, module_aws  # noqa: F401 - fixtures

NOW = datetime(2026, 12, 1, 13, tzinfo=UTC)  # the schedule's time: November ended everywhere
EVENT = {"job": "monthly-report", "as_of": "2026-12-01T13:00:00Z"}


class _Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


def _root(clock: _Clock) -> Any:
    from tollgate.wiring import Root

    return Root(clock=clock)


def _count(root: Any, tenant: str, zone: str, values: list[tuple[datetime, str]]) -> None:
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.wire.usage_message import encode

    message = UsageMessage(
        tenant=tenant,
        timezone=zone,
        meters={"calls": MeterSpec("calls", Aggregation.SUM)},
        events=[
            UsageEvent(id=f"{tenant}-{i}", meter="calls", time=format_time(t), value=v)
            for i, (t, v) in enumerate(values)
        ],
    )
    assert not root.count_usage.count_messages([(str(uuid.uuid4()), encode(message))]).failed


@pytest.fixture(scope="module")
def world(module_aws) -> Any:
    """Two tenants with November's usage; acme's invoice issued."""
    from tollgate.domain.invoices import invoice_id
    from tollgate.domain.meters import Aggregation
    from tollgate.domain.periods import Window
    from tollgate.domain.plans import Limit

    empty_tables(module_aws.tables)
    clock = _Clock()
    clock.at = datetime(2026, 10, 15, tzinfo=UTC)  # tenants made before November
    root = _root(clock)
    root.meters.create_meter({"key": "calls", "name": "Calls", "aggregation": Aggregation.SUM})
    root.plans.put_plan(
        "pro",
        "Pro",
        [Limit("calls", Window.MONTH, Decimal(1000))],
        None,
        actor="t",
        currency="USD",
        charges=[{"meter": "calls", "model": "per_unit", "unit_amount": "0.01", "free_units": "1000"}],
    )
    root.tenants.create_tenant({"id": "acme", "name": '=HYPERLINK("http://x")', "plan": "pro"}, actor="t")
    root.tenants.create_tenant(
        {"id": "kiri", "name": "Kiri", "plan": "pro", "timezone": "Pacific/Kiritimati"}, actor="t"
    )
    _count(root, "acme", "UTC", [(datetime(2026, 11, 3, tzinfo=UTC), "1200"), (datetime(2026, 12, 1, tzinfo=UTC), "5")])
    # 2026-11-30T12:00Z is December 1st in Kiritimati (UTC+14): not its November
    _count(
        root,
        "kiri",
        "Pacific/Kiritimati",
        [(datetime(2026, 11, 10, tzinfo=UTC), "300"), (datetime(2026, 11, 30, 12, tzinfo=UTC), "9")],
    )
    clock.at = datetime(2026, 12, 2, 1, tzinfo=UTC)  # past acme's grace
    assert root.invoices.bill("acme", "2026-11") == "invoiced"
    root.invoices.finalize(invoice_id("acme", "2026-11"))
    return module_aws


@pytest.fixture
def subscriber(world) -> Iterator[Any]:
    """A queue on the operators' topic; the notifications and the reports emptied first."""
    empty_tables({"NotificationsTable": world.tables["NotificationsTable"]})
    root = _root(_Clock())
    sqs, sns, s3 = root._client("sqs"), root._client("sns"), root._client("s3")
    for obj in s3.list_objects_v2(Bucket=root.settings.invoice_bucket, Prefix="reports/").get("Contents", []):
        s3.delete_object(Bucket=root.settings.invoice_bucket, Key=obj["Key"])
    url = sqs.create_queue(QueueName=f"ops-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=root.settings.alerts_topic_arn, Protocol="sqs", Endpoint=arn)
    yield _Subscriber(sqs, url)
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    sqs.delete_queue(QueueUrl=url)


class _Subscriber:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url

    def messages(self) -> list[dict[str, Any]]:
        out = []
        while got := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for m in got:
                out.append(json.loads(json.loads(m["Body"])["Message"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return out


def _handler(clock: _Clock) -> Any:
    from tollgate_dev.local.template import Template, import_handler

    handler = import_handler(Template.load(ROOT / "template.yaml").functions()["ReportsFunction"], fresh=True)
    inspect.unwrap(handler).__globals__["root"] = _root(clock)
    return handler


def _files() -> tuple[dict[str, Any], list[list[str]]]:
    root = _root(_Clock())
    report = json.loads(root.blob_store.get("reports/2026-11.json") or b"")
    table = list(csv.reader(io.StringIO((root.blob_store.get("reports/2026-11.csv") or b"").decode(), newline="")))
    return report, table


def _expected_rows() -> dict[str, Any]:
    from tollgate.domain.invoices import invoice_id

    root = _root(_Clock())
    number = root.invoice_store.get(invoice_id("acme", "2026-11")).number
    return {
        "acme": (
            "critical",
            [
                {
                    "meter": "calls",
                    "usage": "1200",
                    "limit": "1000",
                    "percent": "120.0",
                    "overage_units": "200",
                    "overage_cost": "2.00",
                    "currency": "USD",
                }
            ],
            {"number": number, "total": "2.00", "currency": "USD", "status": "issued"},
        ),
        "kiri": (
            "healthy",
            [
                {
                    "meter": "calls",
                    "usage": "300",
                    "limit": "1000",
                    "percent": "30.0",
                    "overage_units": "0",
                    "overage_cost": "0.00",
                    "currency": "USD",
                }
            ],
            None,
        ),
    }


def _check_files() -> None:
    report, table = _files()
    rows = {r["tenant"]: r for r in report["tenants"]}
    got = {
        t: (
            r["health"],
            r["meters"],
            r["invoice"] and {k: r["invoice"][k] for k in ("number", "total", "currency", "status")},
        )
        for t, r in rows.items()
    }
    assert got == _expected_rows()
    assert report["summary"] == {
        "meters": {"calls": "1500"},
        "plans": {"pro": 2},
        "tenants": 2,
        "tenants_with_overages": 1,
        "revenue": {"USD": "2.00"},
    }
    assert len(table) == 3 and table[0][:3] == ["period", "tenant", "name"]
    assert {r[1]: r[2] for r in table[1:]} == {"acme": '\'=HYPERLINK("http://x")', "kiri": "Kiri"}


def test_the_scheduled_job_writes_both_files_and_tells_the_operators_once(subscriber):
    from tollgate.domain.reports import report_alert_id

    clock = _Clock()
    handler = _handler(clock)
    assert handler(EVENT, FakeContext())["period"] == "2026-11"
    assert handler(EVENT, FakeContext())["tenants"] == 2  # a redelivery: same files, no second alert
    _check_files()
    messages = subscriber.messages()
    assert [m["id"] for m in messages] == [report_alert_id("2026-11")]
    ready = messages[0]
    assert (ready["type"], ready["tenant_id"], ready["period"], ready["tenants"]) == (
        "report.ready",
        None,
        "2026-11",
        2,
    )
    assert "reports/2026-11.json" in ready["links"]["json"] and "reports/2026-11.csv" in ready["links"]["csv"]
    listed = _root(clock).notifications.list(None, unread=None, type_="report.ready", limit=10, cursor=None)
    assert [d["id"] for d in listed.items] == [report_alert_id("2026-11")]


class _Faults:
    """Fails the ``fail_at``-th AWS call of every client (pynamodb's and S3's included):
    before it is sent, or after AWS did it (the answer lost)."""

    def __init__(self, fail_at: int, after: bool) -> None:
        self.fail_at, self.after, self.calls, self.ops = fail_at, after, 0, []
        self.failed: tuple[str, str | None] | None = None  # (the failed operation, the one before)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = BaseClient._make_api_call

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            self.calls += 1
            self.ops.append(operation)
            hit = self.calls == self.fail_at
            if hit:
                self.failed = (operation, self.ops[-2] if len(self.ops) > 1 else None)
            if hit and not self.after:
                raise EndpointConnectionError(endpoint_url=operation)
            answer = original(client, operation, params)
            if hit:
                raise EndpointConnectionError(endpoint_url=operation)
            return answer

        monkeypatch.setattr(BaseClient, "_make_api_call", call)

    @property
    def may_repeat_the_publish(self) -> bool:
        """SNS has no conditional publish: a lost answer of Publish, or of the mark right after
        it, leaves the publisher unsure, and it publishes again (the same id)."""
        assert self.failed is not None
        return (self.failed[0] == "Publish" and self.after) or self.failed[1] == "Publish"


def _clean_calls(monkeypatch: pytest.MonkeyPatch) -> int:
    faults = _Faults(0, after=False)
    faults.install(monkeypatch)
    _handler(_Clock())(EVENT, FakeContext())
    monkeypatch.undo()
    return faults.calls


@pytest.mark.parametrize("after", [False, True], ids=["not-sent", "answer-lost"])
def test_a_fault_at_any_call_leaves_complete_files_and_one_report_ready(subscriber, world, monkeypatch, after):
    from tollgate.domain.reports import report_alert_id

    calls = _clean_calls(monkeypatch)
    assert calls >= 10  # the tenants, overrides, counters, invoices, two uploads, the alert's calls
    for fail_at in range(1, calls + 1):
        empty_tables({"NotificationsTable": world.tables["NotificationsTable"]})
        subscriber.messages()
        clock = _Clock()
        handler = _handler(clock)
        faults = _Faults(fail_at, after)
        faults.install(monkeypatch)
        for _ in range(3):  # the Scheduler's retries
            try:
                handler(EVENT, FakeContext())
                break
            except Exception:  # noqa: BLE001 - any failure (pynamodb and s3transfer wrap the fault): retried
                continue
        monkeypatch.undo()
        clock.at = NOW + timedelta(minutes=1)  # past the lease: the sweep publishes a stranded alert
        _root(clock).alerts.republish()
        _check_files()
        ids = [m["id"] for m in subscriber.messages()]
        assert set(ids) == {report_alert_id("2026-11")}, (fail_at, faults.failed)
        assert len(ids) == 1 or (len(ids) == 2 and faults.may_repeat_the_publish), (fail_at, faults.failed, ids)
