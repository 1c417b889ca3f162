"""An in-process client that does what API Gateway does: run the template's authorizer on the
request, then the function the route belongs to, with real v2 event shapes."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT, FakeContext, http_event, load_event


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def problem(self) -> dict[str, Any]:
        assert self.headers.get("Content-Type") == "application/problem+json", (self.status, self.headers, self.body)
        return self.body


class InProcessApi:
    """Routes by template.yaml's HttpApi events, runs the template's authorizer first, then the
    route's function. ``instance`` gives a separate import of each handler (a separate
    execution environment), for tests that call from several threads."""

    def __init__(self, instance: int = 0) -> None:
        from tollgate_dev.local.gateway import routes_from_template
        from tollgate_dev.local.template import Template, import_handler

        template = Template.load(ROOT / "template.yaml")
        self._functions = template.functions()
        self._routes, _ = routes_from_template(template)
        self._authorizer = import_handler(self._functions["AuthorizerFunction"], instance)
        self._instance = instance
        self._handlers: dict[str, Any] = {}

    def handler_for(self, function_id: str) -> Any:
        from tollgate_dev.local.template import import_handler

        if function_id not in self._handlers:
            self._handlers[function_id] = import_handler(self._functions[function_id], self._instance)
        return self._handlers[function_id]

    def authorize(self, headers: dict[str, str]) -> dict[str, str]:
        event = copy.deepcopy(load_event("apigw_authorizer_request.json"))
        event["headers"] = {k.lower(): v for k, v in headers.items()}
        result = self._authorizer(event, FakeContext())
        assert result["isAuthorized"] is True  # the handlers decide; see docs/security.md
        return result["context"]

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        header_style: str = "bearer",
    ) -> Reply:
        headers = dict(headers or {})
        if key is not None:
            if header_style == "bearer":
                headers["Authorization"] = f"Bearer {key}"
            else:
                headers["X-Api-Key"] = key
        matched = self._routes.match(method, path)
        assert matched is not None, f"no route for {method} {path}"
        route, params = matched
        event = http_event(method, path, body=body, headers=headers, query=query, authorizer=self.authorize(headers))
        event["routeKey"] = route.route_key
        event["requestContext"]["routeKey"] = route.route_key
        if params:
            event["pathParameters"] = params
        raw = self.handler_for(route.function_id)(event, FakeContext())
        text = raw.get("body") or ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(raw["statusCode"], raw.get("headers") or {}, parsed)


def _admin_key() -> str:
    from tollgate.domain.keys import Scope
    from tollgate.services.keys import create_key

    return create_key(Scope.ADMIN, name="test-admin")[1]


@pytest.fixture
def api(aws) -> InProcessApi:
    return InProcessApi()


@pytest.fixture
def admin_key(aws) -> str:
    return _admin_key()


@pytest.fixture(scope="module")
def module_api(aws_module) -> InProcessApi:
    return InProcessApi()


@pytest.fixture(scope="module")
def module_admin_key(aws_module) -> str:
    return _admin_key()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A serialized moto server (the local stack's own, tollgate_dev/local/moto_server.py) for a
    module's server-mode tests; its endpoint URL."""
    from tollgate_dev.local.moto_server import AtomicMotoServer

    server = AtomicMotoServer()
    server.start()
    try:
        yield server.endpoint_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def acme_module(module_api, module_admin_key) -> tuple[InProcessApi, str]:
    """One world for a module: tenant ``acme`` and the sum meter ``api_calls``; (api, admin key)."""
    api, key = module_api, module_admin_key
    assert api.call("POST", "/v1/tenants", key=key, body={"id": "acme", "name": "Acme"}).status == 201
    body = {"key": "api_calls", "name": "API calls", "aggregation": "sum"}
    assert api.call("POST", "/v1/meters", key=key, body=body).status == 201
    return api, key
