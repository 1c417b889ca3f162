"""Tollgate: usage metering, quotas, rate limits, alerts and invoicing on AWS serverless.

Layout:
- ``tollgate.domain``: pure rules (keys, periods, events, counting). Never imports boto3.
- ``tollgate.adapters``: DynamoDB (pynamodb models, low-level writes), SQS.
- ``tollgate.api``: HTTP edge (problem+json, auth guard, pydantic schemas, routes).
- ``tollgate.services``: application services the handlers call.

This package is the Lambda layer (template.yaml's ``ContentUri: shared/``). The developer
tooling (the ``tollgate`` command, the local stack, the cost counter) is ``tollgate_dev`` in
``dev/``, which this package never imports.
"""

__version__ = "0.1.0"
