"""The monthly report: the schedule's ``{"job": "monthly-report", "as_of": <scheduled time>}``
reports the month before ``as_of``'s in the operator's zone; ``{"job": "monthly-report",
"period": "YYYY-MM"}`` (a rerun by hand) reports that month. Both files are rewritten at the
same keys and report.ready is published once per period (tollgate.services.reports)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.services.clock import scheduled_time
from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
root = Root()  # once per execution environment


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    event = event or {}
    period = event.get("period") or root.reports.due_period(scheduled_time(event, root.clock))
    written = root.reports.publish(period)
    metrics.add_metric(name="ReportTenants", unit=MetricUnit.Count, value=written.tenants)
    return {"period": written.period, "tenants": written.tenants, "bytes": written.bytes}
