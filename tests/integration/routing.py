"""An in-process client routed the way API Gateway routes: by template.yaml's HttpApi events.

``tests/integration/conftest.py``'s ``InProcessApi`` sends ``POST /v1/events`` to ingest and
everything else to the API function; this one also sends ``POST /v1/consume`` to the limits
function (and any route added later to its function), runs the template's authorizer first,
and passes a Lambda context. ``instance`` gives a separate import of each handler (a separate
execution environment), for tests that call from several threads.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ROOT, FakeContext, http_event
from tests.integration.conftest import InProcessApi, Reply


class RoutedApi(InProcessApi):
    def __init__(self, instance: int = 0) -> None:
        from tollgate.local.gateway import routes_from_template
        from tollgate.local.template import Template, import_handler

        template = Template.load(ROOT / "template.yaml")
        self._functions = template.functions()
        self._routes, _ = routes_from_template(template)
        self._authorizer = import_handler(self._functions["AuthorizerFunction"], instance)
        self._instance = instance
        self._handlers: dict[str, Any] = {}

    def handler_for(self, function_id: str) -> Any:
        from tollgate.local.template import import_handler

        if function_id not in self._handlers:
            self._handlers[function_id] = import_handler(self._functions[function_id], self._instance)
        return self._handlers[function_id]

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
