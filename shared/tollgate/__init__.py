"""Tollgate: usage metering, quotas, rate limits, alerts and invoicing on AWS serverless.

Layout:
- ``tollgate.domain``: pure rules (keys, periods, events, counting). Never imports boto3.
- ``tollgate.adapters``: DynamoDB (pynamodb models, low-level writes), SQS.
- ``tollgate.api``: HTTP edge (problem+json, auth guard, pydantic schemas, routes).
- ``tollgate.services``: application services the handlers call.
- ``tollgate.local``: the local stack, built from template.yaml.
"""

__version__ = "0.1.0"
