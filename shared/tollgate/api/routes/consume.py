"""POST /v1/consume - check and record usage against the tenant's limits, in one step.

Admin and ingest keys name the tenant; a tenant key consumes for its own tenant. Both 200 and
429 carry the decision (a 429 here is not a problem document) and the RateLimit headers.

``build_router()`` gives each resolver its own router (see routes/ingest.py): the limits
function serves it, and the API's resolver includes another copy for /openapi.json.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.request import Request

from tollgate.api.limit_schemas import ConsumeIn, consume_responses
from tollgate.api.problems import error_responses
from tollgate.api.ratelimit_headers import doc_headers
from tollgate.api.request import caller, require, tenant_for
from tollgate.domain.keys import Scope
from tollgate.services.consume import ConsumeService


def build_router(service: ConsumeService) -> Router:
    router = Router()

    @router.post(
        "/v1/consume",
        tags=["Quotas"],
        summary="May the tenant use this amount now? If so, record it (atomic across every limit)",
        responses={**error_responses(400, 401, 403, 404, 413, 415, 422, 503), **consume_responses()},
    )
    def consume(request: Request, body: ConsumeIn):
        p = require(caller(request), Scope.ADMIN, Scope.INGEST, Scope.TENANT)
        result = service.consume(tenant_for(p, body.tenant), body.meter, body.amount, body.id, body.time)
        return Response(
            status_code=result.status,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(result.body, separators=(",", ":")),
            headers=doc_headers(result.doc, result.answered_at),
        )

    return router
