"""Monthly reports (docs/reports.md): every tenant's month (``domain.reports``) written as JSON
and CSV to the invoice bucket, ``reports/<period>.json|csv``, in one pass over the tenants.

- ``generate`` reads the tenants page by page, each one's usage with ``UsageService.
  period_totals`` (one query per reported meter), its limits from the catalog, and the
  period's invoices by one paged listing (``InvoiceStore.list(period=...)``), and streams the
  rows into two spooled temporary files (memory up to ``SPOOL_BYTES`` each, then /tmp), which
  go to S3 with ``BlobStore.put_file``: no report is ever one string in memory.
- ``publish`` is the monthly job: ``generate``, then ``report.ready`` through the alert service
  to the operators' topic, its id a function of the period. Files first, alert last: a crash
  anywhere reruns into the same keys, and the alert is stored and published once.
- ``fetch`` serves ``GET /v1/reports/{period}``: the stored report (generated first when
  there is none, or on ``refresh``), inline up to ``INLINE_BYTES``, else a presigned link.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from tollgate.domain import periods
from tollgate.domain.alert_types import REPORT_READY
from tollgate.domain.errors import FieldError, ValidationFailed
from tollgate.domain.invoice_export import safe_cell
from tollgate.domain.invoices import is_period, period_bounds, period_of, previous_period
from tollgate.domain.records import Tenant
from tollgate.domain.reports import (
    CSV_COLUMNS,
    InvoiceRef,
    Summary,
    csv_rows,
    is_active,
    meters_of,
    pick_invoice,
    ready_at,
    report_alert_id,
    report_key,
    tenant_row,
)

from .alerts import AlertService
from .catalog import Catalog
from .ports import BlobStore, Clock, InvoiceStore, TenantRepository
from .usage import UsageService

PAGE = 100
SPOOL_BYTES = 1 << 20
INLINE_BYTES = 4 << 20
"""The largest report ``GET`` answers inline (Lambda's response limit is 6 MB, headers and
JSON escaping included); a bigger one is a 302 to a presigned link."""
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class ReportSettings:
    timezone: str = "UTC"  # the operator's zone: which month the scheduled job reports on
    link_ttl: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Written:
    period: str
    tenants: int
    bytes: dict[str, int]
    summary: dict[str, Any]


@dataclass(frozen=True)
class Served:
    """A report for ``GET``: its bytes inline, or the presigned link of a big one."""

    content_type: str
    body: bytes | None = None
    url: str | None = None


class ReportService:
    def __init__(
        self,
        tenants: TenantRepository,
        catalog: Catalog,
        usage: UsageService,
        invoices: InvoiceStore,
        blobs: BlobStore,
        alerts: AlertService,
        clock: Clock,
        settings: ReportSettings,
    ) -> None:
        self._tenants, self._catalog, self._usage, self._invoices = tenants, catalog, usage, invoices
        self._blobs, self._alerts, self._clock, self._settings = blobs, alerts, clock, settings

    # ---------------------------------------------------------------- periods
    def due_period(self, as_of: datetime) -> str:
        """The month the scheduled job reports on: the one before ``as_of``'s in the operator's zone."""
        return previous_period(period_of(as_of, periods.zone(self._settings.timezone)))

    def check_ready(self, period: str) -> None:
        if not is_period(period):
            raise ValidationFailed("period must be YYYY-MM", [FieldError("period", "must be YYYY-MM")])
        ready = ready_at(period)
        if self._clock.now() < ready:
            raise ValidationFailed(
                f"period {period} has not ended in every zone",
                [FieldError("period", f"its report is complete at {ready.astimezone(UTC).isoformat()}")],
            )

    # ---------------------------------------------------------------- the job
    def publish(self, period: str) -> Written:
        """Write the period's report, then raise ``report.ready`` (once per period)."""
        written = self.generate(period)
        ttl = int(self._settings.link_ttl.total_seconds())
        now = self._clock.now()
        self._alerts.raise_(
            [
                {
                    "id": report_alert_id(period),
                    "type": REPORT_READY,
                    "severity": "info",
                    "tenant_id": None,
                    "period": period,
                    "timezone": self._settings.timezone,
                    "tenants": written.tenants,
                    "tenants_with_overages": written.summary["tenants_with_overages"],
                    "revenue": written.summary["revenue"],
                    "links": {
                        "json": self._blobs.link(report_key(period, "json"), ttl),
                        "csv": self._blobs.link(report_key(period, "csv"), ttl),
                        "expires_at": (now + self._settings.link_ttl).isoformat(),
                    },
                    "occurred_at": now.astimezone(periods.zone(self._settings.timezone)).isoformat(),
                }
            ]
        )
        return written

    def generate(self, period: str) -> Written:
        """Both files of ``period``, written in one pass over the tenants."""
        self.check_ready(period)
        summary = Summary()
        with (
            tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as raw_json,
            tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as raw_csv,
        ):
            out_json = io.TextIOWrapper(raw_json, encoding="utf-8", newline="")
            out_csv = io.TextIOWrapper(raw_csv, encoding="utf-8", newline="")
            self._write(period, summary, out_json, out_csv)
            sizes = {}
            for fmt, text, raw in (("json", out_json, raw_json), ("csv", out_csv, raw_csv)):
                text.flush()
                text.detach()
                sizes[fmt] = raw.tell()
                raw.seek(0)
                self._blobs.put_file(report_key(period, fmt), raw, CONTENT_TYPES[fmt])
        return Written(period, summary.tenants, sizes, summary.as_dict())

    def _write(self, period: str, summary: Summary, out_json: IO[str], out_csv: IO[str]) -> None:
        head = {
            "period": period,
            "timezone": self._settings.timezone,
            "generated_at": self._clock.now().isoformat(),
        }
        out_json.write(json.dumps(head)[:-1] + ', "tenants": [')
        writer = csv.writer(out_csv, lineterminator="\r\n")  # RFC 4180
        writer.writerow(CSV_COLUMNS)
        for row in self.rows(period):
            out_json.write(("," if summary.tenants else "") + "\n" + json.dumps(row))
            summary.add(row)
            for cells in csv_rows(row, period):
                writer.writerow([safe_cell(c) for c in cells])
        out_json.write('\n], "summary": ' + json.dumps(summary.as_dict()) + "}\n")

    def rows(self, period: str) -> Iterator[dict[str, Any]]:
        """Every tenant that existed before its ``period`` ended, and any later one with usage
        or an invoice in it (back-dated events), in the listing's order."""
        invoices = self._period_invoices(period)
        cursor: str | None = None
        while True:
            page, cursor = self._tenants.list(PAGE, cursor)
            for tenant in page:
                start, end = period_bounds(period, periods.zone(tenant.timezone))
                row = self._row(tenant, period, start, end, invoices.get(tenant.id))
                if tenant.created_at < end or is_active(row):
                    yield row
            if cursor is None:
                return

    def _row(
        self, tenant: Tenant, period: str, start: datetime, end: datetime, invoice: InvoiceRef | None
    ) -> dict[str, Any]:
        plan = self._catalog.plan(tenant.plan) if tenant.plan else None
        limits = [e.limit for e in self._catalog.effective_limits(tenant)]
        meters = [m for name in meters_of(plan, limits) if (m := self._catalog.meter(name)) is not None]
        usage: dict[str, Decimal | None] = self._usage.period_totals(tenant, meters, start, end) if meters else {}
        return tenant_row(tenant, plan, limits, usage, invoice, period)

    def _period_invoices(self, period: str) -> dict[str, InvoiceRef]:
        """The period's invoices by tenant, kept small (not their documents)."""
        out: dict[str, InvoiceRef] = {}
        cursor: str | None = None
        while True:
            page, cursor = self._invoices.list(tenant_id=None, status=None, period=period, limit=PAGE, cursor=cursor)
            for inv in page:
                ref = InvoiceRef(inv.id, inv.number, inv.doc.get("total"), inv.currency, inv.status, inv.generation)
                out[inv.tenant_id] = pick_invoice(out.get(inv.tenant_id), ref)
            if cursor is None:
                return out

    # ---------------------------------------------------------------- GET
    def fetch(self, period: str, fmt: str, *, refresh: bool = False) -> Served:
        """The stored report of ``period`` (made now when missing, or on ``refresh``)."""
        self.check_ready(period)
        key = report_key(period, fmt)
        size = None if refresh else self._blobs.size(key)
        if size is None:
            size = self.generate(period).bytes[fmt]
        if size > INLINE_BYTES:
            return Served(CONTENT_TYPES[fmt], url=self._blobs.link(key, int(self._settings.link_ttl.total_seconds())))
        body = self._blobs.get(key)
        assert body is not None, f"{key} was just written"
        return Served(CONTENT_TYPES[fmt], body=body)
