"""``GET /v1/invoices/export``: invoices as CSV (RFC 4180, Python's csv module) or JSON, one
row per invoice or per line, written row by row to a temporary file as the store's pages come
(never one big string in memory), then uploaded to the invoice bucket; the caller gets a
presigned link to it. Cells are neutralised against spreadsheet formulas
(``domain.invoice_export.safe_cell``)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from tollgate.domain.errors import FieldError, ValidationFailed
from tollgate.domain.invoice_export import columns, rows, safe_cell
from tollgate.domain.invoices import InvoiceStatus, StoredInvoice

from .invoicing import document_key
from .ports import BlobStore, Clock, InvoiceStore

PAGE = 100
LINK_TTL = timedelta(hours=1)
SPOOL_BYTES = 1 << 20  # kept in memory up to 1 MiB, then on /tmp


@dataclass(frozen=True)
class ExportRequest:
    start: datetime | None
    end: datetime | None
    status: InvoiceStatus | None
    tenant_id: str | None
    fmt: str  # csv | json
    lines: bool


class InvoiceExporter:
    def __init__(self, store: InvoiceStore, blobs: BlobStore, clock: Clock, *, doc_link_ttl: timedelta) -> None:
        self._store, self._blobs, self._clock, self._doc_ttl = store, blobs, clock, doc_link_ttl

    def export(self, req: ExportRequest) -> str:
        """The presigned link of the export's file (valid ``LINK_TTL``)."""
        if req.start is not None and req.end is not None and req.end <= req.start:
            raise ValidationFailed("to must be after from", [FieldError("to", "must be after from")])
        if req.status is InvoiceStatus.DRAFT:
            raise ValidationFailed("drafts have no number", [FieldError("status", "an issued status, not draft")])
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            self._write(req, text)
            text.flush()
            text.detach()
            raw.seek(0)
            key = f"exports/{self._clock.now():%Y-%m-%d}/{uuid.uuid4().hex}.{req.fmt}"
            kind = "text/csv; charset=utf-8" if req.fmt == "csv" else "application/json"
            self._blobs.put_file(key, raw, kind)
        return self._blobs.link(key, int(LINK_TTL.total_seconds()))

    def _invoices(self, req: ExportRequest) -> Any:
        cursor: str | None = None
        while True:
            items, cursor = self._store.list(
                tenant_id=req.tenant_id, status=req.status, period=None, limit=PAGE, cursor=cursor
            )
            for inv in items:
                if inv.number is None or inv.issued_at is None:
                    continue  # drafts: no number, no issue date
                if (req.start is None or inv.issued_at >= req.start) and (req.end is None or inv.issued_at < req.end):
                    yield inv
            if cursor is None:
                return

    def _link(self, inv: StoredInvoice) -> str:
        return self._blobs.link(document_key(inv, "html"), int(self._doc_ttl.total_seconds()))

    def _write(self, req: ExportRequest, out: IO[str]) -> int:
        names, count = columns(req.lines), 0
        if req.fmt == "csv":
            writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
            writer.writerow(names)
            for inv in self._invoices(req):
                for row in rows(inv.doc, self._link(inv), req.lines):
                    writer.writerow([safe_cell(row.get(n)) for n in names])
                    count += 1
            return count
        out.write("[")
        for inv in self._invoices(req):
            for row in rows(inv.doc, self._link(inv), req.lines):
                out.write(("," if count else "") + "\n" + json.dumps({n: row.get(n) for n in names}))
                count += 1
        out.write("\n]\n")
        return count
