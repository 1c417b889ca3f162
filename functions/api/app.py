"""Admin and read API: keys, tenants, meters, usage, raw events, health and docs."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.api.apps import build_api_edge
from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
root = Root()  # once per execution environment
api_edge = build_api_edge(root)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return api_edge(event, context)
