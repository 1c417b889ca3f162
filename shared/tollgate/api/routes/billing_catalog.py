"""/v1/tax-rates, /v1/discounts and /v1/tenants/{id}/discounts - admin only. Assigning a
tenant's discounts is audited (docs/billing.md)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.billing_schemas import (
    DiscountIn,
    DiscountOut,
    DiscountsOut,
    TaxRateIn,
    TaxRateOut,
    TaxRatesOut,
    TenantDiscountsIn,
    TenantDiscountsOut,
)
from tollgate.api.problems import error_responses
from tollgate.api.request import caller, require
from tollgate.domain.ids import ID_MAX_LENGTH, NEW_ID_PATTERN
from tollgate.domain.keys import Scope
from tollgate.services.billing_catalog import BillingCatalogService

IdPath = Annotated[str, Path(pattern=NEW_ID_PATTERN, max_length=ID_MAX_LENGTH)]
WRITE_ERRORS = (400, 401, 403, 409, 413, 415, 422, 429)


def build_router(catalog: BillingCatalogService) -> Router:
    router = Router()

    @router.put(
        "/v1/tax-rates/<rate_id>",
        tags=["Billing catalog"],
        summary="Create or replace a tax rate",
        responses=error_responses(*WRITE_ERRORS),
    )
    def put_tax_rate(request: Request, rate_id: IdPath, body: TaxRateIn) -> TaxRateOut:
        require(caller(request), Scope.ADMIN)
        return TaxRateOut.of(catalog.put_tax_rate(body.domain(rate_id)))

    @router.get(
        "/v1/tax-rates",
        tags=["Billing catalog"],
        summary="List every tax rate",
        responses=error_responses(401, 403, 429),
    )
    def list_tax_rates(request: Request) -> TaxRatesOut:
        require(caller(request), Scope.ADMIN)
        return TaxRatesOut(items=[TaxRateOut.of(r) for r in catalog.tax_rates()])

    @router.put(
        "/v1/discounts/<discount_id>",
        tags=["Billing catalog"],
        summary="Create or replace a discount",
        responses=error_responses(*WRITE_ERRORS),
    )
    def put_discount(request: Request, discount_id: IdPath, body: DiscountIn) -> DiscountOut:
        require(caller(request), Scope.ADMIN)
        return DiscountOut.of(catalog.put_discount(body.domain(discount_id)))

    @router.get(
        "/v1/discounts",
        tags=["Billing catalog"],
        summary="List every discount",
        responses=error_responses(401, 403, 429),
    )
    def list_discounts(request: Request) -> DiscountsOut:
        require(caller(request), Scope.ADMIN)
        return DiscountsOut(items=[DiscountOut.of(d) for d in catalog.list_discounts()])

    @router.get(
        "/v1/discounts/<discount_id>",
        tags=["Billing catalog"],
        summary="Read a discount",
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def get_discount(request: Request, discount_id: IdPath) -> DiscountOut:
        require(caller(request), Scope.ADMIN)
        return DiscountOut.of(catalog.get_discount(discount_id))

    @router.put(
        "/v1/tenants/<tenant_id>/discounts",
        tags=["Billing catalog"],
        summary="Replace a tenant's discounts (audited); a discount assigned to no tenant applies to every "
        "eligible tenant",
        responses=error_responses(*WRITE_ERRORS, 404),
    )
    def put_tenant_discounts(request: Request, tenant_id: IdPath, body: TenantDiscountsIn) -> TenantDiscountsOut:
        p = require(caller(request), Scope.ADMIN)
        items = catalog.set_tenant_discounts(tenant_id, body.discount_ids, actor=p.key_id, reason=body.reason)
        return TenantDiscountsOut(tenant=tenant_id, items=[DiscountOut.of(d) for d in items])

    return router
