"""/v1/reports/{period}: the monthly report (docs/reports.md), admin only.

The stored report of the period is served (the monthly job writes it; the first GET of a
period without one writes it, as ``refresh=true`` does again). Up to ``INLINE_BYTES`` it is
the 200 body, JSON or CSV; a bigger one is a 302 to a presigned link, its URL in the body too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.request import Request
from pydantic import BaseModel, Field

from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require
from tollgate.domain.invoices import PERIOD_PATTERN
from tollgate.domain.keys import Scope
from tollgate.services.reports import ReportService

from .common import Flag

PeriodPath = Annotated[
    str, Path(pattern=PERIOD_PATTERN, description="YYYY-MM: each tenant's calendar month in its own zone.")
]


class ReportMeterOut(BaseModel):
    meter: str
    usage: str = Field(description="The month's total, a decimal string.")
    limit: str | None = Field(description="The monthly limit; null without one.")
    percent: str | None = Field(description="usage / limit x 100, one decimal; null without a (positive) limit.")
    overage_units: str
    overage_cost: str | None = Field(
        description="What the units above the limit cost, when the plan prices exactly them (a per_unit charge "
        "whose free units equal the limit); else null."
    )
    currency: str | None


class ReportInvoiceOut(BaseModel):
    id: str
    number: str | None = Field(description="Null for a draft.")
    total: str | None
    currency: str
    status: Literal["draft", "issued", "overdue", "paid", "void"]


class ReportTenantOut(BaseModel):
    tenant: str
    name: str
    plan: str | None
    timezone: str = Field(description="The tenant's zone: its row covers the month in it.")
    health: Literal["healthy", "caution", "warning", "critical"] = Field(
        description="The worst level over the monthly limits at the month's usage."
    )
    meters: list[ReportMeterOut]
    invoice: ReportInvoiceOut | None


class ReportSummaryOut(BaseModel):
    meters: dict[str, str] = Field(description="Each meter's total over the tenants.")
    plans: dict[str, int] = Field(description="Tenants per plan; `(none)` for tenants without one.")
    tenants: int
    tenants_with_overages: int
    revenue: dict[str, str] = Field(description="Per currency: totals of the issued, paid and overdue invoices.")


class ReportOut(BaseModel):
    period: str
    timezone: str = Field(description="The operator's zone (OperatorTimezone).")
    generated_at: str
    tenants: list[ReportTenantOut]
    summary: ReportSummaryOut


def build_router(reports: ReportService) -> Router:
    router = Router()

    @router.get(
        "/v1/reports/<period>",
        tags=["Reports"],
        summary="The monthly report: every tenant's usage, limits, overage and invoice, and a summary",
        description="Admin only. 422 naming `period` until the month has ended in every zone (noon UTC on the "
        "first of the next month). The report the monthly job stored is served; `refresh=true` makes it again "
        "from the counters and invoices. CSV: one row per tenant and meter (RFC 4180; a cell a spreadsheet "
        "would run as a formula is prefixed with `'`). A report over 4 MiB is a 302 to a presigned link.",
        responses={
            200: {
                "description": "The report, inline.",
                "content": {
                    "application/json": {"model": ReportOut},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            302: {
                "description": "`Location`: the presigned URL of a big report; the body names it too (`{url}`).",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}
                    }
                },
            },
            **error_responses(401, 403, 422, 429),
        },
    )
    def get_report(
        request: Request,
        period: PeriodPath,
        format: Annotated[Literal["json", "csv"], Query(description="Default json.")] = "json",
        refresh: Annotated[Flag, Query(description="Make the report again now.")] = "false",
    ):  # a JSON, CSV or 302 Response
        require(caller(request), Scope.ADMIN)
        served = reports.fetch(period, format, refresh=refresh == "true")
        if served.url is not None:
            return _redirect(served.url)
        assert served.body is not None
        return Response(200, served.content_type, served.body.decode(), headers={"Cache-Control": "no-store"})

    return router


def _redirect(url: str) -> Response[Any]:
    return Response(
        302,
        content_type="application/json",
        body=json.dumps({"url": url}),
        headers={"Location": url, "Cache-Control": "no-store"},
    )
