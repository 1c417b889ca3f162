"""The dollar model of the cost matrix (issue 9): AWS on-demand list prices x counted usage.

Pure: no AWS, no moto. ``bench.cost_matrix`` counts what one million events use (requests,
invocations, GB-seconds, SQS requests as billed, DynamoDB request units) and ``dollars``
prices it. Prices are us-east-1 list prices, first tier, free tiers ignored, read from the
pages named beside each constant (December 2026).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

MILLION = 1_000_000

# https://aws.amazon.com/api-gateway/pricing/ - HTTP APIs, first 300 million requests a month;
# "requests are metered in 512 KB increments".
API_GATEWAY_HTTP_PER_MILLION = 1.00
API_GATEWAY_METERING_BYTES = 512 * 1024

# https://aws.amazon.com/lambda/pricing/ - requests, and duration on Arm (Graviton) for the first
# 7.5 billion GB-seconds a month (template.yaml: Architectures [arm64]). Duration is billed per
# millisecond.
LAMBDA_REQUESTS_PER_MILLION = 0.20
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334

# https://aws.amazon.com/sqs/pricing/ - standard queue, per million requests after the first
# million; "each 64 KB chunk of a payload is billed as 1 request".
SQS_STANDARD_PER_MILLION = 0.40
SQS_BILLING_CHUNK_BYTES = 64 * 1024

# https://aws.amazon.com/dynamodb/pricing/on-demand/ - Standard table class, on-demand (the
# template's PAY_PER_REQUEST), since the 2024-11-01 price cut.
DYNAMODB_WRITE_UNIT_PER_MILLION = 0.625
DYNAMODB_READ_UNIT_PER_MILLION = 0.125

# https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html - "at 1,769 MB, a
# function has the equivalent of one vCPU": below that, CPU-bound work takes proportionally longer.
LAMBDA_MB_PER_VCPU = 1_769

PRICES: dict[str, tuple[float, str]] = {
    "API Gateway HTTP API, per million requests (512 KB increments)": (
        API_GATEWAY_HTTP_PER_MILLION,
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    "Lambda, per million requests": (LAMBDA_REQUESTS_PER_MILLION, "https://aws.amazon.com/lambda/pricing/"),
    "Lambda arm64, per GB-second": (LAMBDA_ARM_PER_GB_SECOND, "https://aws.amazon.com/lambda/pricing/"),
    "SQS standard, per million requests (64 KB chunks)": (
        SQS_STANDARD_PER_MILLION,
        "https://aws.amazon.com/sqs/pricing/",
    ),
    "DynamoDB on-demand, per million write request units": (
        DYNAMODB_WRITE_UNIT_PER_MILLION,
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "DynamoDB on-demand, per million read request units": (
        DYNAMODB_READ_UNIT_PER_MILLION,
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
}


def sqs_billed(payload_bytes: int) -> int:
    """Requests SQS bills for one request carrying ``payload_bytes`` (at least 1)."""
    return max(1, math.ceil(payload_bytes / SQS_BILLING_CHUNK_BYTES))


def api_billed(body_bytes: int) -> int:
    """Requests API Gateway bills for one HTTP API request of ``body_bytes``."""
    return max(1, math.ceil(body_bytes / API_GATEWAY_METERING_BYTES))


def cpu_stretch(memory_mb: int) -> float:
    """How much longer CPU-bound work takes on a function of ``memory_mb`` than on one vCPU."""
    return max(1.0, LAMBDA_MB_PER_VCPU / memory_mb)


def billed_seconds(duration_s: float) -> float:
    """Lambda bills each invocation's duration rounded up to the millisecond."""
    return math.ceil(round(duration_s * 1000, 6)) / 1000


@dataclass(frozen=True)
class FunctionUse:
    """One function's invocations and duration for the events priced."""

    invocations: float
    seconds_per_invocation: float  # billed duration (already rounded up to the ms)
    memory_mb: int

    @property
    def gb_seconds(self) -> float:
        return self.invocations * self.seconds_per_invocation * self.memory_mb / 1024


@dataclass(frozen=True)
class Usage:
    """What a number of events use, as AWS meters it."""

    api_requests: float  # billed (512 KB increments)
    functions: Mapping[str, FunctionUse] = field(default_factory=dict)
    sqs_requests: float = 0.0  # billed (64 KB chunks): sends, receives, deletes
    write_units: float = 0.0
    read_units: float = 0.0

    def scaled(self, factor: float) -> Usage:
        return Usage(
            self.api_requests * factor,
            {
                k: FunctionUse(f.invocations * factor, f.seconds_per_invocation, f.memory_mb)
                for k, f in self.functions.items()
            },
            self.sqs_requests * factor,
            self.write_units * factor,
            self.read_units * factor,
        )


def dollars(usage: Usage) -> dict[str, float]:
    """Dollars per service line, and ``total``: prices x counts, nothing else."""
    out = {"API Gateway requests": usage.api_requests / MILLION * API_GATEWAY_HTTP_PER_MILLION}
    invocations = sum(f.invocations for f in usage.functions.values())
    out["Lambda requests"] = invocations / MILLION * LAMBDA_REQUESTS_PER_MILLION
    for name, f in usage.functions.items():
        out[f"Lambda GB-s {name}"] = f.gb_seconds * LAMBDA_ARM_PER_GB_SECOND
    out["SQS requests"] = usage.sqs_requests / MILLION * SQS_STANDARD_PER_MILLION
    out["DynamoDB writes"] = usage.write_units / MILLION * DYNAMODB_WRITE_UNIT_PER_MILLION
    out["DynamoDB reads"] = usage.read_units / MILLION * DYNAMODB_READ_UNIT_PER_MILLION
    out["total"] = sum(out.values())
    return out
