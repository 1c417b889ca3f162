"""The Lambda authorizer's logic: API key -> principal context for the handlers.

It always authorizes and passes either the principal or the reason it has none. The
handlers' ``Edge`` turns "no principal" into a problem+json 401 - API Gateway's own denial
would be a bare 403 with no problem document, and a missing key would never reach us.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)

from tollgate.domain.keys import key_from_headers
from tollgate.services.keys import KeyService

logger = Logger(child=True)


def authorize(keys: KeyService, raw_event: dict[str, Any]) -> dict[str, Any]:
    event = APIGatewayAuthorizerEventV2(raw_event)
    result = keys.authenticate(key_from_headers(event.headers))
    if result.principal is None:
        logger.info("request without a valid key", extra={"reason": result.error, "route": event.route_key})
        return APIGatewayAuthorizerResponseV2(authorize=True, context={"error": result.error or "invalid"}).asdict()
    logger.append_keys(key_id=result.principal.key_id)
    return APIGatewayAuthorizerResponseV2(authorize=True, context=result.principal.as_context()).asdict()
