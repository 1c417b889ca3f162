"""POST /v1/consume: check and record usage against a tenant's limits in one transaction."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.api.apps import build_limits_edge
from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
root = Root()  # once per execution environment
limits_edge = build_limits_edge(root)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return limits_edge(event, context)
