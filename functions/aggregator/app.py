"""Scheduled job: report usage-queue backlog, dead letters and quarantined events as metrics
and log lines."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
root = Root()  # once per execution environment


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    health = root.queue_health.check()
    metrics.add_metric(name="UsageQueueBacklog", unit=MetricUnit.Count, value=health.backlog)
    metrics.add_metric(name="UsageDeadLetters", unit=MetricUnit.Count, value=health.dead_letters)
    metrics.add_metric(name="EventsQuarantinedToday", unit=MetricUnit.Count, value=health.quarantined_today)
    if health.dead_letters:
        logger.warning("usage events are dead-lettered and not counted", extra={"dead_letters": health.dead_letters})
    if health.quarantined_today:
        logger.warning(
            "events were quarantined today: GET /v1/events/rejected lists them",
            extra={"quarantined_today": health.quarantined_today},
        )
    return {
        "backlog": health.backlog,
        "dead_letters": health.dead_letters,
        "quarantined_today": health.quarantined_today,
        "healthy": health.healthy,
    }
