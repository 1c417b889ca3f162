"""The document behind ``/openapi.json`` and ``/docs``: one for every HTTP function.

Each HTTP function serves its own resolver: template.yaml routes ``POST /v1/events`` to the
ingest function, ``POST /v1/consume`` to the limits function and the rest to the API function.
The API function serves the document, made by merging the three resolvers' own documents. It
therefore describes each route as its function serves it, and no function mounts a router only
so that it gets documented.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.compat import model_json
from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

# One resolver lists its schemas by name and then this one, which Powertools adds last.
_APPENDED_SCHEMA = "ResponseValidationError"


def merge_documents(main: APIGatewayHttpResolver, *others: APIGatewayHttpResolver) -> OpenAPI:
    """``main``'s document (info, servers, security) plus the paths and schemas of ``others``,
    in the order one resolver with all their routes would give. Two resolvers with the same
    route, or two different schemas with the same name, are an error."""
    doc = _document(main)
    paths = doc.setdefault("paths", {})
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for other in others:
        theirs = _document(other)
        for path, operations in theirs.get("paths", {}).items():
            ours = paths.setdefault(path, {})
            for method, operation in operations.items():
                if method in ours:
                    raise ValueError(f"{method.upper()} {path} is in two resolvers")
                ours[method] = operation
        for name, schema in theirs.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two different schemas are named {name}")
    doc["components"]["schemas"] = {n: schemas[n] for n in sorted(schemas, key=lambda n: (n == _APPENDED_SCHEMA, n))}
    return OpenAPI(**doc)


def _document(app: APIGatewayHttpResolver) -> dict[str, Any]:
    return app.get_openapi_schema().model_dump(by_alias=True, exclude_none=True)


def document_json(main: APIGatewayHttpResolver, *others: APIGatewayHttpResolver) -> str:
    """The merged document as ``get_openapi_json_schema`` writes one resolver's."""
    return model_json(merge_documents(main, *others), by_alias=True, exclude_none=True, indent=2)


def swagger_html(document: str) -> str:
    """Swagger UI showing ``document``, as Powertools' ``enable_swagger`` renders one
    resolver's: its bundled script and style inline, ``</`` escaped in the embedded JSON."""
    assets = files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
    js = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
    return generate_swagger_html(document.replace("</", "<\\/"), js, css, "", None)
