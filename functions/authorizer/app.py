"""Lambda authorizer (HTTP API, payload 2.0, simple responses): API key -> principal."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.api.authorizer import authorize
from tollgate.wiring import Root

logger = Logger()
root = Root()  # once per execution environment


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return authorize(root.keys, event)
