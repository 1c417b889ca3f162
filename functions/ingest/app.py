"""POST /v1/events: validate usage events and pack them into the usage queue."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.api.ingest_app import build_ingest_edge
from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
root = Root()  # once per execution environment
ingest_edge = build_ingest_edge(root)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return ingest_edge(event, context)
