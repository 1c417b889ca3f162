"""Shared fixtures: an in-process moto AWS built from template.yaml, and API Gateway events.

Integration tests feed the real handlers real event shapes (tests/events/*.json)."""

from __future__ import annotations

import base64
import copy
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


def _share_botocore_loaders() -> None:
    """Every boto3 Session builds its own loader and parses the service models again (about
    0.15 s a client). The tests build hundreds of sessions (each moto world, each adapter), so
    they share one loader per data path: its caches are of read-only model files."""
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)


_share_botocore_loaders()


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
    """An API Gateway HTTP API (payload 2.0) event from tests/events/apigw_http_request.json.
    ``body``: a JSON value (dumped), text (sent as is) or bytes (sent base64-encoded)."""
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
    event["isBase64Encoded"] = False
    if body is None:
        event.pop("body", None)
    else:
        if isinstance(body, bytes):  # raw bytes travel base64-encoded, as API Gateway sends them
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"] = body if isinstance(body, str) else json.dumps(body)
        event["headers"].setdefault("content-type", "application/json")
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
@contextmanager
def moto_stack() -> Iterator[Any]:
    """moto in-process, with every resource of template.yaml created by the local stack's own
    code, and the functions' environment (from the template) pointing at them. Each test (or
    each function environment a test imports) builds its own composition root, so no cache
    outlives its world."""
    import boto3
    from moto import mock_aws

    from tollgate_dev.local.resources import create_all
    from tollgate_dev.local.template import Template, merged_environment

    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        template = Template.load(ROOT / "template.yaml")
        created = create_all(template, boto3.Session())
        for name, value in merged_environment(template.functions()).items():
            patch.setenv(name, value)
        yield created


@pytest.fixture
def aws() -> Iterator[Any]:
    with moto_stack() as created:
        yield created


@pytest.fixture(scope="module")
def aws_module() -> Iterator[Any]:
    """One moto world for a whole module, for tests that only read or fail (the security matrix)."""
    with moto_stack() as created:
        yield created


def new_root() -> Any:
    """A composition root on the current environment (a test's moto world)."""
    from tollgate.wiring import Root

    return Root()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long(seconds)`` first, longest first, the rest in their order. With
    pytest-xdist (`make test`: ``--dist loadfile --no-loadscope-reorder``) each worker starts
    on a long file and the many short ones fill in around them; xdist's own order (files with
    the most tests first) ran the one-test long files last, one per worker, while the other
    worker idled (7 of 14 minutes in CI)."""

    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("long")
        return float(mark.args[0]) if mark is not None and mark.args else 0.0

    items.sort(key=seconds, reverse=True)  # stable: the rest keep their order
