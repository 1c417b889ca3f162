"""/openapi.json and /docs: the merged document of the three HTTP functions' own resolvers
(api, limits, ingest), served by the API function, which serves only its own routes."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

from tests.conftest import FakeContext, http_event, new_root

FUNCTIONS = {"ApiFunction": "api_edge", "LimitsFunction": "limits_edge", "IngestFunction": "ingest_edge"}


def resolver_of(api, function_id: str) -> Any:
    """The resolver that this client's environment of ``function_id`` serves."""
    return inspect.unwrap(api.handler_for(function_id)).__globals__[FUNCTIONS[function_id]].app


def served(api, path: str) -> str:
    raw = api.handler_for("ApiFunction")(http_event("GET", path), FakeContext())
    assert raw["statusCode"] == 200, raw
    return raw["body"]


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(method, path): op for path, ops in doc["paths"].items() for method, op in ops.items()}


def test_the_document_is_the_union_of_the_functions_own_documents(api):
    doc = json.loads(served(api, "/openapi.json"))
    own = {fn: json.loads(resolver_of(api, fn).get_openapi_json_schema()) for fn in FUNCTIONS}
    union: dict[tuple[str, str], Any] = {}
    schemas: dict[str, Any] = {}
    for fn_doc in own.values():
        ops = operations(fn_doc)
        assert not ops.keys() & union.keys(), "a route is served by two functions"
        union.update(ops)
        for name, schema in fn_doc["components"]["schemas"].items():
            assert schemas.setdefault(name, schema) == schema, name
    assert operations(doc) == union  # every route of each function, once, with its operation
    assert ("post", "/v1/consume") in union and ("post", "/v1/events") in union and ("get", "/v1/events") in union
    assert doc["components"]["schemas"] == schemas
    api_doc = own["ApiFunction"]
    for field in ("openapi", "info", "servers", "security"):
        assert doc[field] == api_doc[field]
    assert doc["components"]["securitySchemes"] == api_doc["components"]["securitySchemes"]


def test_the_document_is_what_one_resolver_with_every_route_would_write(aws):
    """Byte for byte: the merge keeps the paths, methods and schemas in one resolver's order."""
    from tollgate.api import apps, docs
    from tollgate.api.http import create_app
    from tollgate.api.ingest_app import build_ingest_edge
    from tollgate.api.routes import (
        analytics,
        audit,
        billing_catalog,
        consume,
        ingest,
        invoices,
        keys,
        me,
        meters,
        notifications,
        plans,
        quarantine,
        quotas,
        reports,
        subscriptions,
        system,
        tenants,
    )
    from tollgate.api.routes import usage as usage_routes

    root = new_root()
    everything = create_app(
        system.build_router(),
        keys.build_router(root.keys),
        tenants.build_router(root.tenants, root.rate_limits, root.health, root.tenant_ranking, root.quotas),
        meters.build_router(root.meters),
        usage_routes.build_router(root.usage, root.events_log, root.clock),
        plans.build_router(root.plans),
        quotas.build_router(root.quotas, root.meters),
        audit.build_router(root.audit, root.tenants),
        quarantine.build_router(root.quarantine),
        subscriptions.build_router(root.subscriptions),
        notifications.build_router(root.notifications, root.tenants),
        billing_catalog.build_router(root.billing_catalog),
        invoices.build_router(root.invoices, root.invoice_runs, root.invoice_lifecycle, root.invoice_exporter),
        analytics.build_router(root.analytics),
        reports.build_router(root.reports),
        me.build_router(),
        consume.build_router(root.consume),
        ingest.build_router(root.ingest),
        description=apps.DESCRIPTION,
    )
    merged = docs.document_json(apps.build_api_app(root), apps.build_limits_edge(root).app, build_ingest_edge(root).app)
    assert merged == everything.get_openapi_json_schema()


def test_the_api_function_serves_none_of_the_other_functions_routes(api, admin_key):
    own = json.loads(resolver_of(api, "ApiFunction").get_openapi_json_schema())
    assert "/v1/consume" not in own["paths"] and set(own["paths"]["/v1/events"]) == {"get"}
    handler = api.handler_for("ApiFunction")
    for path, body in (("/v1/consume", {"tenant": "acme", "meter": "api_calls"}), ("/v1/events", [])):
        function_id, event = api.request("POST", path, key=admin_key, body=body)
        assert function_id != "ApiFunction"  # API Gateway sends it elsewhere; the API function would 404
        raw = handler(event, FakeContext())
        assert raw["statusCode"] == 404 and f"no route POST {path}" in raw["body"]


def test_docs_shows_the_merged_document(api):
    document = served(api, "/openapi.json")
    page = served(api, "/docs")
    assert "swagger-ui" in page.lower()
    assert document.replace("</", "<\\/") in page


def test_a_route_in_two_resolvers_is_an_error(aws):
    from tollgate.api import docs
    from tollgate.api.http import create_app
    from tollgate.api.routes import consume

    root = new_root()
    with pytest.raises(ValueError, match="POST /v1/consume is in two resolvers"):
        docs.merge_documents(
            create_app(consume.build_router(root.consume)), create_app(consume.build_router(root.consume))
        )


def test_the_document_describes_the_prices_of_plans(api):
    schemas = json.loads(served(api, "/openapi.json"))["components"]["schemas"]
    plan_in, plan_out, charge_in = schemas["PlanIn"]["properties"], schemas["PlanOut"], schemas["ChargeIn"]
    assert {"currency", "base_fee", "minimum_commitment", "charges"} <= plan_in.keys()
    assert {"type": "string", "pattern": plan_in["base_fee"]["anyOf"][1]["pattern"]} in plan_in["base_fee"]["anyOf"]
    assert set(charge_in["properties"]["model"].get("enum") or schemas["Model"]["enum"]) == {
        "per_unit",
        "graduated",
        "volume",
        "package",
        "percentage",
    }
    out = plan_out["properties"]
    assert {"currency", "base_fee", "minimum_commitment", "charges"} <= set(plan_out["required"])
    assert out["base_fee"]["type"] == "string" and "decimal string" in out["base_fee"]["description"]
    assert "decimal string" in out["charges"]["description"]


def test_the_document_describes_the_report_inline_and_as_a_link(api):
    doc = json.loads(served(api, "/openapi.json"))
    get = doc["paths"]["/v1/reports/{period}"]["get"]
    ok = get["responses"]["200"]["content"]
    assert ok["application/json"]["schema"]["$ref"].endswith("/ReportOut")
    assert ok["text/csv"]["schema"] == {"type": "string"}
    assert get["responses"]["302"]["content"]["application/json"]["schema"]["required"] == ["url"]
    assert {"401", "403", "422"} <= set(get["responses"])
    params = {p["name"]: p for p in get["parameters"]}
    assert set(params) == {"period", "format", "refresh"}
    schemas = doc["components"]["schemas"]
    assert set(schemas["ReportOut"]["required"]) == {"period", "timezone", "generated_at", "tenants", "summary"}
    assert set(schemas["ReportSummaryOut"]["required"]) == {
        "meters",
        "plans",
        "tenants",
        "tenants_with_overages",
        "revenue",
    }
