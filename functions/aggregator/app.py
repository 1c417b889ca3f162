"""Scheduled jobs, by the schedule's Input: ``{"job": "alert-sweep"}`` raises the alerts the
real-time path missed and refreshes tenant health (tollgate.services.alert_sweep);
``{"job": "reconcile", "as_of": ...}`` recounts the previous day's sum and count totals and
publishes drifts (tollgate.services.reconcile); ``{"job": "analytics-rollup"}`` rolls up the
usage of the pairs active in the last hours (tollgate.services.rollup_job); anything else is the health job, which reports
usage-queue backlog, dead letters and quarantined events as metrics and log lines."""

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
    job = (event or {}).get("job")
    if job == "reconcile":
        return reconcile(event, context)
    if job == "alert-sweep":
        return alert_sweep()
    if job == "analytics-rollup":
        return analytics_rollup(context)
    return health()


def analytics_rollup(context: LambdaContext) -> dict:
    report = root.rollup_job.run(remaining_ms=context.get_remaining_time_in_millis)
    metrics.add_metric(name="RollupPairs", unit=MetricUnit.Count, value=report.rolled)
    metrics.add_metric(name="RollupDays", unit=MetricUnit.Count, value=report.days)
    if report.errors:  # the scheduler retries: what failed is redone, the rest rewritten unchanged
        raise RuntimeError(f"{report.errors} (tenant, meter) pairs could not be rolled up")
    return report.summary()


def alert_sweep() -> dict:
    report = root.alert_sweep.run()
    metrics.add_metric(name="AlertSweepTenants", unit=MetricUnit.Count, value=report.tenants)
    metrics.add_metric(name="AlertsRaisedBySweep", unit=MetricUnit.Count, value=report.raised)
    metrics.add_metric(name="AlertsRepublished", unit=MetricUnit.Count, value=report.republished)
    return {"tenants": report.tenants, "raised": report.raised, "republished": report.republished}


def reconcile(event: dict, context: LambdaContext) -> dict:
    report = root.reconcile.run(event, remaining_ms=context.get_remaining_time_in_millis, metrics=metrics)
    if report.publish_failures:  # the scheduler retries with the same as_of: the same alert ids
        raise RuntimeError(f"{report.publish_failures} counter drift alerts could not be published")
    return report.summary()


def health() -> dict:
    state = root.queue_health.check()
    metrics.add_metric(name="UsageQueueBacklog", unit=MetricUnit.Count, value=state.backlog)
    metrics.add_metric(name="UsageDeadLetters", unit=MetricUnit.Count, value=state.dead_letters)
    metrics.add_metric(name="EventsQuarantinedToday", unit=MetricUnit.Count, value=state.quarantined_today)
    if state.dead_letters:
        logger.warning("usage events are dead-lettered and not counted", extra={"dead_letters": state.dead_letters})
    if state.quarantined_today:
        logger.warning(
            "events were quarantined today: GET /v1/events/rejected lists them",
            extra={"quarantined_today": state.quarantined_today},
        )
    return {
        "backlog": state.backlog,
        "dead_letters": state.dead_letters,
        "quarantined_today": state.quarantined_today,
        "healthy": state.healthy,
    }
