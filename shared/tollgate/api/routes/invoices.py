"""/v1/invoices, /v1/invoice-runs and /v1/tenants/{id}/upcoming-invoice.

An admin key reads every invoice; a tenant key reads its own tenant's (another tenant's is a
404, as everywhere). Runs and finalizing are admin only. ``download`` answers 302 to a fresh
presigned S3 URL of the issued invoice's HTML or JSON document."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.request import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tollgate.api.limit_schemas import DecimalIn
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require, tenant_for, tenant_or_all
from tollgate.api.schemas import Reason, Strict
from tollgate.domain.errors import FieldError, ValidationFailed
from tollgate.domain.ids import ID_MAX_LENGTH, ID_PATTERN
from tollgate.domain.invoices import PERIOD_PATTERN, InvoiceRun, InvoiceStatus, StoredInvoice
from tollgate.domain.keys import Scope
from tollgate.services.invoice_export import ExportRequest, InvoiceExporter
from tollgate.services.invoice_lifecycle import InvoiceLifecycle
from tollgate.services.invoice_runs import InvoiceRuns
from tollgate.services.invoicing import InvoiceService

from .common import Cursor, Flag, Limit, TenantQ, flag, paged

InvoicePath = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]
TenantPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]
Period = Annotated[str, Field(pattern=PERIOD_PATTERN, description="YYYY-MM: the calendar month in the tenant's zone.")]


class InvoiceOut(BaseModel):
    """The invoice JSON (docs/billing.md, "Invoices"). Money is a decimal string with exactly
    the currency's minor digits."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(description="Null on the upcoming preview.")
    number: str | None = Field(description="`<prefix>-<seq>`, gap-free; null until issued.")
    tenant_id: str
    status: Literal["draft", "issued", "overdue", "paid", "void", "upcoming"]
    currency: str
    period: dict[str, str] = Field(description="`{start, end}`: RFC 3339 with the tenant's offset; end exclusive.")
    lines: list[dict[str, Any]] = Field(
        description="`{type, meter?, filter?, description, quantity, unit_amount?, amount, tiers?}`; type is "
        "base_fee, charge, minimum_commitment or discount."
    )
    subtotal: str
    discount_total: str
    taxes: list[dict[str, str]] = Field(description="`{name, percent, amount}` per rate.")
    tax_total: str
    total: str
    reverse_charge: bool
    tax_note: str | None = Field(description='"Reverse charge", "Tax exempt" or null.')
    issued_at: str | None
    due_at: str | None

    @classmethod
    def of(cls, inv: StoredInvoice) -> InvoiceOut:
        return cls(**inv.doc)


class PaymentIn(Strict):
    amount: DecimalIn | None = Field(
        default=None, description="Default: everything due. A partial amount lowers amount_due; more than due is a 422."
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="The payment provider's id: a repeated reference records nothing twice.",
    )
    paid_at: datetime | None = Field(default=None, description="RFC 3339; default now.")

    @field_validator("paid_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("must carry a time zone offset")
        return v


class VoidIn(Strict):
    reason: Reason = Field(description="Kept in the audit trail and on the invoice.")


class InvoicesPage(BaseModel):
    items: list[InvoiceOut] = Field(description="Newest period first.")
    next_cursor: str | None


class InvoiceRunIn(Strict):
    period: Period
    tenant: str | None = Field(default=None, pattern=ID_PATTERN, description="One tenant; default: every tenant.")


class InvoiceRunOut(BaseModel):
    id: str
    period: str
    tenant: str | None
    status: Literal["running", "done"] = Field(description="done: every tenant fanned out has an outcome.")
    expected: int | None = Field(description="Tenants fanned out; null until the fan-out finishes.")
    invoices: int = Field(description="Tenants with an invoice for the period (a draft made or found).")
    skipped: int = Field(description="Tenants with nothing to bill.")
    failed: int = Field(description="Tenants whose billing failed (retried by the queue; a success replaces it).")
    failures: list[dict[str, str]] = Field(description="The first few failures: `{tenant_id, error}`.")

    @classmethod
    def of(cls, run: InvoiceRun) -> InvoiceRunOut:
        return cls(
            id=run.id,
            period=run.period,
            tenant=run.tenant_id,
            status=run.status.value,
            expected=run.expected,
            invoices=run.invoices,
            skipped=run.skipped,
            failed=run.failed,
            failures=run.failures,
        )


def _redirect(url: str) -> Response[Any]:
    """302 to a presigned URL; the body names it too (`{"url": ...}`), for clients that do
    not follow redirects."""
    return Response(
        302,
        content_type="application/json",
        body=json.dumps({"url": url}),
        headers={"Location": url, "Cache-Control": "no-store"},
    )


def _link(url: str) -> Response[Any]:
    """The presigned URL as JSON, without the redirect (``redirect=false``)."""
    return Response(
        200, content_type="application/json", body=json.dumps({"url": url}), headers={"Cache-Control": "no-store"}
    )


def _export_request(
    tenant_id: str | None, status: str | None, start: datetime | None, end: datetime | None, fmt: str, lines: bool
) -> ExportRequest:
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} needs a time zone offset", [FieldError(name, "must carry an offset")])
    return ExportRequest(
        start=start,
        end=end,
        status=InvoiceStatus(status) if status else None,
        tenant_id=tenant_id,
        fmt=fmt,
        lines=lines,
    )


def build_router(
    invoices: InvoiceService, runs: InvoiceRuns, lifecycle: InvoiceLifecycle, exporter: InvoiceExporter
) -> Router:
    router = Router()
    _reading_routes(router, invoices, exporter)
    _action_routes(router, invoices, runs, lifecycle)
    return router


def _reading_routes(router: Router, invoices: InvoiceService, exporter: InvoiceExporter) -> None:
    @router.get(  # before /v1/invoices/<invoice_id>, which would take "export" for an id
        "/v1/invoices/export",
        tags=["Invoices"],
        summary="Export invoices as CSV or JSON: 302 to a presigned link of the file (valid 1 hour)",
        description="One row per issued invoice (or per line with `lines=true`): number, tenant, name, "
        "country, tax id, issue and due dates, status, currency, subtotal, discount, tax, total, paid, due "
        "and a link to the invoice. CSV is RFC 4180; a cell that a spreadsheet would run as a formula "
        "(`=`, `+`, `-`, `@`, tab, CR; numbers aside) is prefixed with `'`. Admin, or a tenant key for its own.",
        responses={
            302: {"description": "`Location`: the export's presigned URL."},
            **error_responses(401, 403, 404, 422, 429),
        },
    )
    def export(
        request: Request,
        tenant: TenantQ = None,
        status: Annotated[Literal["issued", "overdue", "paid", "void"] | None, Query()] = None,
        from_: Annotated[datetime | None, Query(alias="from", description="Issued at or after (RFC 3339).")] = None,
        to: Annotated[datetime | None, Query(description="Issued before (RFC 3339).")] = None,
        format: Annotated[Literal["csv", "json"], Query()] = "csv",
        lines: Annotated[Literal["true", "false"], Query(description="One row per line.")] = "false",
    ):  # a 302 Response: no body schema
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        url = exporter.export(_export_request(tenant_or_all(p, tenant), status, from_, to, format, lines == "true"))
        return _redirect(url)

    @router.get(
        "/v1/invoices",
        tags=["Invoices"],
        summary="Invoices, newest period first",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def list_invoices(
        request: Request,
        tenant: TenantQ = None,
        status: Annotated[Literal["draft", "issued", "overdue", "paid", "void"] | None, Query()] = None,
        period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="YYYY-MM.")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> InvoicesPage:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        tenant_id = tenant_or_all(p, tenant)
        items, nxt = paged(
            lambda n, c: invoices.list_invoices(
                tenant_id=tenant_id,
                status=InvoiceStatus(status) if status else None,
                period=period,
                limit=n,
                cursor=c,
            ),
            limit,
            cursor,
        )
        return InvoicesPage(items=[InvoiceOut.of(i) for i in items], next_cursor=nxt)

    @router.get(
        "/v1/invoices/<invoice_id>",
        tags=["Invoices"],
        summary="One invoice",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def get_invoice(request: Request, invoice_id: InvoicePath) -> InvoiceOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        return InvoiceOut.of(invoices.get(invoice_id, tenant_or_all(p, None)))

    @router.get(
        "/v1/invoices/<invoice_id>/download",
        tags=["Invoices"],
        summary="302 to a fresh presigned link of the issued invoice's document",
        responses={
            200: {"description": 'With `redirect=false`: `{"url": ...}`, the presigned S3 URL, and no redirect.'},
            302: {"description": "`Location`: the presigned S3 URL."},
            **error_responses(401, 403, 404, 409, 422, 429),
        },
    )
    def download(
        request: Request,
        invoice_id: InvoicePath,
        format: Annotated[Literal["html", "json"], Query(description="Default html.")] = "html",
        redirect: Annotated[
            Flag,
            Query(
                description="`false`: answer 200 with the link instead of a 302 (for a web page, whose "
                "fetch cannot read a redirect to another origin). Default true."
            ),
        ] = "true",
    ):  # a 302 Response: no body schema
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        url = invoices.download_link(invoice_id, format, tenant_or_all(p, None))
        return _redirect(url) if flag(redirect) else _link(url)


def _action_routes(router: Router, invoices: InvoiceService, runs: InvoiceRuns, lifecycle: InvoiceLifecycle) -> None:
    @router.post(
        "/v1/invoices/<invoice_id>/finalize",
        tags=["Invoices"],
        summary="Issue a draft now: the next gap-free number, documents to S3, invoice.ready",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def finalize(request: Request, invoice_id: InvoicePath) -> InvoiceOut:
        p = require(caller(request), Scope.ADMIN)
        return InvoiceOut.of(invoices.finalize(invoice_id, actor=p.key_id))

    @router.post(
        "/v1/invoices/<invoice_id>/pay",
        tags=["Invoices"],
        summary="Record a payment (partial or whole; idempotent per reference)",
        responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429),
    )
    def pay(request: Request, invoice_id: InvoicePath, body: PaymentIn) -> InvoiceOut:
        p = require(caller(request), Scope.ADMIN)
        return InvoiceOut.of(
            lifecycle.pay(
                invoice_id, amount=body.amount, reference=body.reference, paid_at=body.paid_at, actor=p.key_id
            )
        )

    @router.post(
        "/v1/invoices/<invoice_id>/void",
        tags=["Invoices"],
        summary="Void an issued or overdue invoice (its number stays used)",
        responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429),
    )
    def void(request: Request, invoice_id: InvoicePath, body: VoidIn) -> InvoiceOut:
        p = require(caller(request), Scope.ADMIN)
        return InvoiceOut.of(lifecycle.void(invoice_id, reason=body.reason, actor=p.key_id))

    @router.get(
        "/v1/tenants/<tenant_id>/upcoming-invoice",
        tags=["Invoices"],
        summary="The current period so far, priced as its invoice will be (status upcoming)",
        responses=error_responses(401, 403, 404, 409, 422, 429),
    )
    def upcoming(request: Request, tenant_id: TenantPath) -> InvoiceOut:
        p = require(caller(request), Scope.ADMIN, Scope.TENANT)
        return InvoiceOut(**invoices.upcoming(tenant_for(p, tenant_id)))

    @router.post(
        "/v1/invoice-runs",
        status_code=202,
        tags=["Invoices"],
        summary="Bill an ended period: every tenant, or one (202; idempotent per tenant and period)",
        responses=error_responses(400, 401, 403, 413, 415, 422, 429),
    )
    def start_run(request: Request, body: InvoiceRunIn) -> InvoiceRunOut:
        require(caller(request), Scope.ADMIN)
        return InvoiceRunOut.of(runs.start(body.period, body.tenant))

    @router.get(
        "/v1/invoice-runs/<run_id>",
        tags=["Invoices"],
        summary="A run's progress",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def get_run(request: Request, run_id: InvoicePath) -> InvoiceRunOut:
        require(caller(request), Scope.ADMIN)
        return InvoiceRunOut.of(runs.get(run_id))
