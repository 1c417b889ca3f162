"""RFC 9457 problem details (``application/problem+json``), the one error shape of the API.

Each problem type has a stable ``type`` URI (relative, documented in docs/errors.md), a
``title`` that does not change between occurrences, the HTTP ``status``, a ``detail`` for this
occurrence, and for validation problems ``errors: [{field, message}]`` naming what to fix.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from tollgate.domain.errors import FieldError, TollgateError

PROBLEM_JSON = "application/problem+json"


class FieldErrorOut(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `timezone` or `events[3].time`.")
    message: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="A URI naming the kind of problem; see docs/errors.md.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldErrorOut] = Field(default_factory=list)


def problem_body(
    status: int, slug: str, title: str, detail: str, errors: list[FieldError] | None = None, instance: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body["errors"] = [e.as_dict() for e in errors or []]
    return body


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        status_code=status,
        content_type=PROBLEM_JSON,
        body=json.dumps(problem_body(status, slug, title, detail, errors)),
        headers=headers,
    )


def from_error(err: TollgateError, headers: dict[str, str] | None = None) -> Response:
    return problem(err.status, err.slug, err.title, err.detail, err.errors, headers)


def as_v2_response(resp: Response) -> dict[str, Any]:
    """A problem as a raw API Gateway v2 response, for errors raised before the resolver runs."""
    headers = {"Content-Type": resp.content_type or PROBLEM_JSON}
    for k, v in (resp.headers or {}).items():
        headers[k] = v if isinstance(v, str) else ",".join(v)
    return {"statusCode": resp.status_code, "headers": headers, "body": resp.body, "isBase64Encoded": False}


# Common problems, raised at the edge before a route runs.
def bad_request(detail: str, field: str = "body") -> Response:
    return problem(400, "malformed-request", "The request body is not valid JSON", detail, [FieldError(field, detail)])


def unsupported_media_type(got: str, allowed: list[str]) -> Response:
    detail = f"Content-Type {got or '(none)'!r} is not supported; send one of: {', '.join(allowed)}"
    return problem(
        415, "unsupported-media-type", "Unsupported media type", detail, [FieldError("Content-Type", detail)]
    )


def too_large(size: int, limit: int) -> Response:
    detail = f"The body is {size} bytes; the limit is {limit} bytes"
    return problem(413, "payload-too-large", "Payload too large", detail, [FieldError("body", detail)])


# The documented error responses, for OpenAPI.
def error_responses(*statuses: int) -> dict[int, dict]:
    text = {
        400: "Malformed JSON",
        401: "Missing, unknown or revoked API key",
        403: "The key's scope does not allow this",
        404: "Not found (or not visible to this key)",
        409: "Already exists",
        413: "Body over 1 MiB",
        415: "Unsupported content type",
        422: "Validation failed; `errors` names each field",
        429: "Rate limited",
    }
    return {
        s: {"description": text.get(s, "Error"), "content": {PROBLEM_JSON: {"model": ProblemOut}}} for s in statuses
    }
