"""An in-process client that does what API Gateway does: run the template's authorizer on the
request, then the function the route belongs to, with real v2 event shapes."""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT, FakeContext, http_event, load_event, new_root


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def problem(self) -> dict[str, Any]:
        assert self.headers.get("Content-Type") == "application/problem+json", (self.status, self.headers, self.body)
        return self.body

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Reply:
        """A handler's API Gateway (payload 2.0) response, its JSON body parsed."""
        text = raw.get("body") or ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return cls(raw["statusCode"], raw.get("headers") or {}, parsed)


class InProcessApi:
    """Routes by template.yaml's HttpApi events, runs the template's authorizer first, then the
    route's function. Each client imports its own copy of each handler: its own execution
    environments, with their own composition roots (``root_of``)."""

    def __init__(self) -> None:
        from tollgate_dev.local.gateway import routes_from_template
        from tollgate_dev.local.template import Template

        template = Template.load(ROOT / "template.yaml")
        self._functions = template.functions()
        self._routes, _ = routes_from_template(template)
        self._handlers: dict[str, Any] = {}
        self._authorizer = self.handler_for("AuthorizerFunction")

    def handler_for(self, function_id: str) -> Any:
        from tollgate_dev.local.template import import_handler

        if function_id not in self._handlers:
            self._handlers[function_id] = import_handler(self._functions[function_id], fresh=True)
        return self._handlers[function_id]

    def root_of(self, function_id: str) -> Any:
        """The composition root of this client's environment of ``function_id``."""
        return inspect.unwrap(self.handler_for(function_id)).__globals__["root"]

    def authorize(self, headers: dict[str, str]) -> dict[str, str]:
        event = copy.deepcopy(load_event("apigw_authorizer_request.json"))
        event["headers"] = {k.lower(): v for k, v in headers.items()}
        result = self._authorizer(event, FakeContext())
        assert result["isAuthorized"] is True  # the handlers decide; see docs/security.md
        return result["context"]

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        header_style: str = "bearer",
    ) -> tuple[str, dict[str, Any]]:
        """What API Gateway hands the route's function: (its logical id, the event), the
        authorizer run on the request's headers."""
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
        return route.function_id, event

    def call(self, method: str, path: str, **request: Any) -> Reply:
        """``request``'s keywords; the route's function run on the event."""
        function_id, event = self.request(method, path, **request)
        return Reply.of(self.handler_for(function_id)(event, FakeContext()))


def cli_admin_key(name: str = "admin") -> str:
    """A new admin key made by ``tollgate keys create`` (the CLI an operator bootstraps with),
    in the table the environment names: setup through the product's entry points only."""
    import contextlib
    import io

    from tollgate_dev.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["keys", "create", "--scope", "admin", "--name", name]) == 0
    return out.getvalue().strip()


def _admin_key() -> str:
    from tollgate.domain.keys import Scope

    return new_root().keys.create_key(Scope.ADMIN, name="test-admin")[1]


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


@contextlib.contextmanager
def template_on(endpoint: str, **env: str) -> Iterator[Any]:
    """A fresh world on a running moto server: its state reset, every resource of
    template.yaml created there, and the functions' environment (plus ``env``) pointing at it
    until the block ends. Yields the loaded template."""
    import boto3
    import requests

    from tollgate_dev.local.resources import create_all
    from tollgate_dev.local.template import Template, merged_environment

    patch = pytest.MonkeyPatch()
    try:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        for name, value in env.items():
            patch.setenv(name, value)
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        template = Template.load(ROOT / "template.yaml", endpoint_url=endpoint)
        for name, value in merged_environment(template.functions()).items():
            patch.setenv(name, value)
        create_all(template, boto3.Session())
        yield template
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def acme_module(module_api, module_admin_key) -> tuple[InProcessApi, str]:
    """One world for a module: tenant ``acme`` and the sum meter ``api_calls``; (api, admin key)."""
    api, key = module_api, module_admin_key
    assert api.call("POST", "/v1/tenants", key=key, body={"id": "acme", "name": "Acme"}).status == 201
    body = {"key": "api_calls", "name": "API calls", "aggregation": "sum"}
    assert api.call("POST", "/v1/meters", key=key, body=body).status == 201
    return api, key
