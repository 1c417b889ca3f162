"""What the in-process handler benchmarks share: a Lambda context and the environment a
function would see, with AWS credentials that reach nothing."""

from __future__ import annotations

import os


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def set_environment(log_level: str, **extra: str) -> None:
    for name, value in {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "tollgate",
        "POWERTOOLS_METRICS_NAMESPACE": "Tollgate",
        "POWERTOOLS_LOG_LEVEL": log_level,
        **extra,
    }.items():
        os.environ.setdefault(name, value)
