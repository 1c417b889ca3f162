"""Demo data over the HTTP API only (``tollgate demo``; ``make demo`` starts a stack first).

Three tenants in three zones on three plans, a month of back-dated usage (hourly events, sent
1,000 per request), thresholds crossed (alerts, notifications, health), and last month invoiced
and issued. Event ids are fixed, so a second run counts nothing twice (the consumer dedupes ids).

It writes the plans ``pro`` and ``scale`` (``free`` only when missing), the meter ``api_calls``
and the tenants ``demo-*``: run it against a demo stack, not one whose plans you care about.
``tag`` suffixes every id, so a test can seed a shared stack without meeting other tests' data."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .api_client import UNREACHABLE, ApiClient, CliError
from .ops_billing import wait_for_run
from .tables import Progress

BATCH = 1000  # POST /v1/events takes up to 1,000 events per request
BACK = timedelta(days=34)  # ingest takes events up to 35 days old
ENDPOINTS = ("/search", "/orders", "/export")
STEP = timedelta(hours=6)  # one event per tenant every 6 hours: ~400 events, counted in seconds locally


@dataclass(frozen=True)
class DemoTenant:
    id: str
    name: str
    timezone: str
    plan: str
    last_month_daily: int  # api_calls per day last month
    this_month_total: int  # api_calls so far this month, spread over the hours elapsed


def plans(meter: str, tag: str) -> dict[str, dict[str, Any]]:
    def limit(n: int, enforcement: str, thresholds: list[float]) -> dict[str, Any]:
        return {"meter": meter, "window": "month", "limit": n, "enforcement": enforcement, "thresholds": thresholds}

    return {
        f"free{tag}": {"name": "Free", "currency": "USD", "limits": [limit(10_000, "hard", [0.8, 1.0])]},
        f"pro{tag}": {
            "name": "Pro",
            "currency": "USD",
            "base_fee": "29",
            "limits": [limit(100_000, "soft", [0.5, 0.8, 1.0])],
            "charges": [{"meter": meter, "model": "per_unit", "unit_amount": "0.0005", "free_units": "50000"}],
        },
        f"scale{tag}": {
            "name": "Scale",
            "currency": "USD",
            "base_fee": "99",
            "limits": [limit(500_000, "soft", [0.8, 1.0, 1.2])],
            "charges": [
                {
                    "meter": meter,
                    "model": "graduated",
                    "tiers": [{"up_to": "250000", "unit_amount": "0.0004"}, {"unit_amount": "0.0002"}],
                }
            ],
        },
    }


def tenants(tag: str) -> list[DemoTenant]:
    return [
        DemoTenant(f"demo-lumiere{tag}", "Lumière SAS", "Europe/Paris", f"free{tag}", 250, 10_500),
        DemoTenant(f"demo-hudson{tag}", "Hudson Analytics", "America/New_York", f"pro{tag}", 3_000, 85_000),
        DemoTenant(f"demo-sakura{tag}", "Sakura KK", "Asia/Tokyo", f"scale{tag}", 20_000, 150_000),
    ]


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def previous_period(now: datetime, zone: str) -> str:
    """YYYY-MM of the month before ``now``'s in ``zone``."""
    return (month_start(now.astimezone(ZoneInfo(zone))) - timedelta(days=1)).strftime("%Y-%m")


def hourly_values(t: DemoTenant, now: datetime) -> Iterator[tuple[datetime, int]]:
    """(time in the tenant's zone, api_calls) every STEP from last month's start (or 34 days back)
    to now. Stepped in UTC: local wall-clock arithmetic would repeat or skip a DST hour."""
    zone = ZoneInfo(t.timezone)
    this_month = month_start(now.astimezone(zone))
    start = max(month_start(this_month - timedelta(days=1)), (now - BACK).astimezone(zone))
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hours = []
    while hour < now:
        hours.append(hour.astimezone(zone))
        hour += STEP
    current = [h for h in hours if h >= this_month]
    for h in hours:
        if h < this_month:
            yield h, max(1, t.last_month_daily * STEP // timedelta(days=1))
        else:
            yield h, max(1, -(-t.this_month_total // len(current)))  # ceiling: the total is at least the target


def events(t: DemoTenant, meter: str, now: datetime) -> list[dict[str, Any]]:
    out = []
    for n, (hour, value) in enumerate(hourly_values(t, now)):
        out.append(
            {
                "id": f"{t.id}-{hour.astimezone(UTC):%Y%m%d%H}",
                "type": meter,
                "subject": t.id,
                "time": hour.isoformat(),
                "data": {"value": value, "endpoint": ENDPOINTS[n % len(ENDPOINTS)]},
            }
        )
    return out


Log = Callable[[str], None]


class Seeder:
    def __init__(self, client: ApiClient, tag: str = "", log: Log = lambda _: None, timeout: float = 90) -> None:
        self.client = client
        self.tag = f"-{tag}" if tag else ""
        self.meter = f"api_calls{self.tag}"
        self.tenants = tenants(self.tag)
        self.log = log
        self.timeout = timeout
        self.events_sent = 0

    def _deadline_loop(self, what: str) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            yield
            time.sleep(0.5)
        raise CliError(UNREACHABLE, f"the demo waited {self.timeout:g} s for {what}; see the stack's log")

    def catalog(self) -> None:
        meter = {"key": self.meter, "name": "API calls", "aggregation": "sum", "group_by": ["endpoint"]}
        self.client.send("POST", "/v1/meters", body=meter, ok=(201, 409))
        for plan_id, body in plans(self.meter, self.tag).items():
            if (
                plan_id.startswith("free")
                and self.client.send("GET", f"/v1/plans/{plan_id}", ok=(200, 404)).status == 200
            ):
                continue  # the local stack's catalog has one: keep it
            self.client.put(f"/v1/plans/{plan_id}", body)
        for t in self.tenants:
            body = {"id": t.id, "name": t.name, "timezone": t.timezone, "plan": t.plan, "currency": "USD"}
            self.client.send("POST", "/v1/tenants", body=body | {"billing_email": f"ops@{t.id}.example"}, ok=(201, 409))

    def usage(self, now: datetime) -> dict[str, int]:
        """Send the events, then wait until every one is counted; the totals sent, per tenant."""
        sent = {}
        batch: list[dict[str, Any]] = []
        for t in self.tenants:
            mine = events(t, self.meter, now)
            sent[t.id] = sum(e["data"]["value"] for e in mine)
            batch += mine
        for i in range(0, len(batch), BATCH):
            self.client.post("/v1/events", batch[i : i + BATCH], ok=(202,))
        self.events_sent = len(batch)
        self.log(f"sent {len(batch)} events in {-(-len(batch) // BATCH)} requests")
        for t in self.tenants:
            this_month = month_start(now.astimezone(ZoneInfo(t.timezone)))
            params = {"tenant": t.id, "meter": self.meter, "window": "month"}
            params["from"] = month_start(this_month - timedelta(days=1)).isoformat()
            params["to"] = month_start(this_month + timedelta(days=32)).isoformat()
            for _ in self._deadline_loop(f"{t.id}'s usage to be counted"):
                if str(self.client.get("/v1/usage", params)["total"]) == str(sent[t.id]):
                    break
        return sent

    def alerts(self) -> int:
        """Wait for the real-time path's notifications of the free tenant's crossings."""
        tenant = self.tenants[0].id
        for _ in self._deadline_loop(f"{tenant}'s alerts"):
            items = self.client.get("/v1/notifications", {"tenant": tenant})["items"]
            if len(items) >= 2:  # 80 % and 100 % of its month
                return len(items)
        return 0

    def invoices(self, now: datetime) -> list[dict[str, Any]]:
        """Bill each tenant's last month, wait for the run, and issue the drafts."""
        issued = []
        for t in self.tenants:
            period = previous_period(now, t.timezone)
            run = self.client.post("/v1/invoice-runs", {"period": period, "tenant": t.id})
            quiet = Progress(io.StringIO(), "")  # not a terminal: draws nothing
            run = wait_for_run(self.client, run, self.timeout, quiet)
            if run["status"] != "done":
                raise CliError(UNREACHABLE, f"the invoice run for {t.id} {period} did not finish: {run}")
            listed = self.client.get("/v1/invoices", {"tenant": t.id, "period": period})["items"]
            for invoice in listed:
                if invoice["status"] == "draft":
                    invoice = self.client.post(f"/v1/invoices/{invoice['id']}/finalize", None, ok=(200,))
                issued.append(invoice)
        return issued

    def seed(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        started = time.monotonic()
        marks: dict[str, float] = {}

        def mark(stage: str) -> None:
            marks[stage] = round(time.monotonic() - started, 1)

        self.catalog()
        mark("catalog_s")
        sent = self.usage(now)
        mark("counted_s")
        self.log(f"usage counted after {marks['counted_s']} s")
        notifications = self.alerts()
        mark("alerted_s")
        invoices = self.invoices(now)
        mark("invoiced_s")
        self.log(f"seeded in {marks['invoiced_s']} s: {notifications} notifications, {len(invoices)} invoices")
        return {
            "tenants": [
                {"id": t.id, "timezone": t.timezone, "plan": t.plan, "api_calls": sent[t.id]} for t in self.tenants
            ],
            "meter": self.meter,
            "events": self.events_sent,
            "notifications": notifications,
            "invoices": [
                {k: i[k] for k in ("id", "number", "tenant_id", "status", "total", "currency")} for i in invoices
            ],
            "seconds": marks["invoiced_s"],
            "stages": marks,
        }
