"""Invoices: the invoice queue's messages (fan-out, bill one tenant, finalize one invoice) and
the hourly schedule (``{"job": "invoice-run", "as_of": <scheduled time>}``), which queues the
tenants whose period just ended and the drafts past their grace (tollgate.services.invoice_runs),
and the daily one (``{"job": "invoice-daily", ...}``): overdue invoices and payment reminders
(tollgate.services.invoice_lifecycle).

A message that fails is reported to SQS as a partial batch failure: SQS delivers it again, and
every message is idempotent (one invoice per tenant and period; a number only with its issue).
"""

import json

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate.services.clock import scheduled_time
from tollgate.wiring import Root

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
root = Root()  # once per execution environment


def record_handler(record: SQSRecord) -> None:
    root.invoice_runs.handle(json.loads(record.body))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if (event or {}).get("job") == "invoice-daily":
        report = root.invoice_lifecycle.daily(scheduled_time(event, root.clock))
        metrics.add_metric(name="InvoicesOverdue", unit=MetricUnit.Count, value=report.overdue)
        metrics.add_metric(name="InvoiceReminders", unit=MetricUnit.Count, value=report.reminders)
        metrics.add_metric(name="InvoiceLateFees", unit=MetricUnit.Count, value=report.late_fees)
        return report.summary()
    if (event or {}).get("job") == "invoice-run":
        report = root.invoice_runs.scheduled(scheduled_time(event, root.clock))
        metrics.add_metric(name="InvoicesToFinalize", unit=MetricUnit.Count, value=report.finalize)
        return report.summary()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
