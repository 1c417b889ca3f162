"""Shared fixtures: an in-process moto AWS built from template.yaml, and API Gateway events.

Integration tests feed the real handlers real event shapes (tests/events/*.json)."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"

# Never reach real AWS from a test, whatever the developer's shell has.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_MAX_ATTEMPTS="1",
    POWERTOOLS_METRICS_NAMESPACE="Tollgate",
    POWERTOOLS_SERVICE_NAME="tollgate",
    POWERTOOLS_DEV="false",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    authorizer: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event from tests/events/apigw_http_request.json."""
    event = copy.deepcopy(load_event("apigw_http_request.json"))
    event["routeKey"] = "$default"
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["headers"] = {k.lower(): v for k, v in (headers or {}).items()}
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    else:
        event.pop("queryStringParameters", None)
        event["rawQueryString"] = ""
    if body is None:
        event.pop("body", None)
    else:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        event["headers"].setdefault("content-type", "application/json")
    event["isBase64Encoded"] = False
    event["requestContext"]["authorizer"] = {"lambda": authorizer or {"error": "missing"}}
    return event


class FakeContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


# ---------------------------------------------------------------- in-process AWS
TABLE_ENV = {
    "TenantsTable": "TENANTS_TABLE",
    "MetersTable": "METERS_TABLE",
    "ApiKeysTable": "API_KEYS_TABLE",
    "EventsTable": "EVENTS_TABLE",
    "CountersTable": "COUNTERS_TABLE",
}


@pytest.fixture
def aws(monkeypatch) -> Iterator[dict[str, str]]:
    """moto in-process, with every resource of template.yaml created by the local stack's own
    code, and the functions' environment pointing at them. Yields logical id -> physical ref."""
    from moto import mock_aws

    from tollgate import config
    from tollgate.local.resources import create_resources
    from tollgate.local.template import load_template

    with mock_aws():
        template = load_template(ROOT / "template.yaml")
        refs = create_resources(template)
        env = template.function_environment(refs)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()
        _rebind_models()
        yield refs
    config.settings.cache_clear()


def _rebind_models() -> None:
    """pynamodb models read their table name at import; point them at this test's tables."""
    from tollgate.adapters import models

    for model in models.ALL_MODELS:
        env_name = model.Meta.env_name
        model.Meta.table_name = os.environ[env_name]
        model._connection = None
