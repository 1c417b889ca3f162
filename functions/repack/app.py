"""SQS pack queue -> folded usage messages on the usage queue (tollgate.services.repack).

Records whose events could not all be queued, and poison bodies, are reported to SQS as
partial batch failures; SQS delivers them again and dead-letters them after maxReceiveCount.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
root = Root()  # once per execution environment


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = root.repack.repack_batch(event, metrics=metrics)
    return process_partial_response(
        event=event, record_handler=outcome.record_handler, processor=processor, context=context
    )
