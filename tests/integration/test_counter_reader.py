"""The counter reader's period totals (what invoices and analytics read), on moto: every
meter of a tenant totalled over a month, and over days, in the tenant's zone."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.conftest import new_root
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.meters import Aggregation
from tollgate.services.ingest import IngestService
from tollgate.services.ports import SendReport

PARIS = ZoneInfo("Europe/Paris")


class Capture:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies):
        self.bodies += bodies
        return SendReport(sent=list(range(len(bodies))), calls=1, billed=1)


def test_period_totals_of_every_meter_by_month_and_by_day(aws, monkeypatch):
    from tollgate.services import clock

    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 1, 12, tzinfo=ZoneInfo("UTC")))
    root = new_root()
    tenant = root.tenants.create_tenant({"id": "acme", "name": "Acme", "timezone": "Europe/Paris"})
    calls = root.meters.create_meter({"key": "calls", "name": "Calls", "aggregation": Aggregation.COUNT})
    peak = root.meters.create_meter({"key": "peak", "name": "Peak", "aggregation": Aggregation.MAX})
    events = [
        {"id": "a", "type": "calls", "subject": "acme", "time": "2026-10-31T23:30:00Z"},  # 1 Nov in Paris
        {"id": "b", "type": "calls", "subject": "acme", "time": "2026-11-15T10:00:00Z"},
        {"id": "c", "type": "calls", "subject": "acme", "time": "2026-11-30T23:30:00Z"},  # 1 Dec in Paris
        {"id": "d", "type": "peak", "subject": "acme", "time": "2026-11-15T10:00:00Z", "data": {"value": 7}},
        {"id": "e", "type": "peak", "subject": "acme", "time": "2026-11-16T10:00:00Z", "data": {"value": 3}},
    ]
    queue = Capture()
    IngestService(root.catalog, queue, root.clock).ingest(
        Principal("key_admin", Scope.ADMIN), json.loads(json.dumps(events))
    )
    outcome = root.count_usage.count_messages([(f"m{i}", b) for i, b in enumerate(queue.bodies)])
    assert outcome.counted == 5 and not outcome.failed

    november = root.usage.period_totals(
        tenant, [calls, peak], datetime(2026, 11, 1, tzinfo=PARIS), datetime(2026, 12, 1, tzinfo=PARIS)
    )
    assert november == {"calls": Decimal(2), "peak": Decimal(7)}
    days = root.usage.period_totals(
        tenant, [calls, peak], datetime(2026, 11, 16, tzinfo=PARIS), datetime(2026, 12, 2, tzinfo=PARIS)
    )
    assert days == {"calls": Decimal(1), "peak": Decimal(3)}
