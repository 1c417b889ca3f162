"""Counters table stream -> threshold and overage alerts (tollgate.services.alerts).

Each record is one counter write's old and new value. A record whose step failed is reported
by its sequence number: Lambda retries the shard from it, and the alert ids make the retry
exact. After MaximumRetryAttempts the scheduled sweep raises what was missed.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
root = Root()  # once per execution environment


def record_handler(record: DynamoDBRecord) -> None:
    root.real_time_alerts.handle(record.raw_event)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
