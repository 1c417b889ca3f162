"""The HTTP edge shared by every API function.

``create_app`` builds a Powertools resolver with validation (OpenAPI 3.1 from the pydantic
schemas) and maps every error to problem+json. ``Edge`` runs the checks that must come
before a route - authentication, the API rate limit, body size, content type, UTF-8 and JSON
syntax - in that order, so an unauthenticated caller learns nothing about the body, a rate-limited caller
costs nothing more, and a rejected request writes nothing.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

from tollgate.domain.errors import FieldError, TollgateError, Unauthenticated
from tollgate.domain.keys import Principal

from . import problems
from .console import is_console
from .ratelimit_headers import rate_limit_headers
from .request import media_type, raw_body

if TYPE_CHECKING:
    from tollgate.services.ratelimit import RateDecision

logger = Logger(child=True)

MAX_BODY_BYTES = 1024 * 1024
PUBLIC_ROUTES = frozenset({("GET", "/health"), ("GET", "/openapi.json"), ("GET", "/docs")})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


# ------------------------------------------------------------------ resolver
def _field_of(loc: Iterable[Any]) -> str:
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _message(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def validation_errors(errors: Iterable[dict[str, Any]]) -> list[FieldError]:
    return [FieldError(_field_of(e.get("loc", ())), _message(str(e.get("msg", "is not valid")))) for e in errors]


def create_app(*routers: Router, title: str = "Tollgate API", description: str = "") -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    app.configure_openapi(
        title=title,
        version="1.0.0",
        description=description,
        security_schemes={
            "bearer": HTTPBearer(description="`Authorization: Bearer tg_...`"),
            "apiKey": APIKey(name="X-Api-Key", in_=APIKeyIn.header, description="`X-Api-Key: tg_...`"),
        },
        security=[{"bearer": []}, {"apiKey": []}],
    )
    for router in routers:
        app.include_router(router)
    _complete_responses(app)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problems.problem(422, "validation-error", "The request is not valid", detail, errors)

    @app.exception_handler(TollgateError)
    def _domain(exc: TollgateError) -> Response:
        return problems.from_error(exc)

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        path = app.current_event.path
        method = app.current_event.http_method
        return problems.problem(404, "not-found", "Not found", f"no route {method} {path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return problems.problem(500, "internal-error", "Internal error", "an unexpected error occurred; it was logged")

    return app


def _complete_responses(app: APIGatewayHttpResolver) -> None:
    """Finish each route's documented responses:

    - Powertools documents the success response only for a route without ``responses``; add
      it (from the return annotation) where a route lists only its errors;
    - every authenticated route may answer 429 (the Edge's rate limit)."""
    limited = problems.error_responses(429)[429]
    limited = {
        **limited,
        "description": "Over the API rate limit; `Retry-After` says when to retry",
        "headers": {h: {"schema": {"type": "string"}} for h in ("Retry-After", "RateLimit-Policy", "RateLimit")},
    }
    for route in (*app._static_routes, *app._dynamic_routes):  # noqa: SLF001 - no public accessor
        if not route.responses:
            continue
        route.responses = {**route.responses}
        route.responses.setdefault(route.status_code, {"description": "Successful response"})
        if (str(route.method).upper(), route.path) not in PUBLIC_ROUTES:
            route.responses.setdefault(429, limited)


# ------------------------------------------------------------------ rate limiting
RateCheck = Callable[[Principal], "RateDecision | None"]
"""The Edge's rate-limit step (``services.ratelimit.ApiRateLimits.check``); None: off."""


def rate_limited_problem(decision: RateDecision) -> Response:
    limit = decision.limit
    detail = (
        f"over the API rate limit of {limit.per_second} requests/s (burst {limit.burst}) for "
        f"{'this tenant' if decision.bucket_key.startswith('t#') else 'this key'}; "
        f"retry in {rate_limit_headers(decision)['Retry-After']} s"
    )
    return problems.problem(429, "rate-limited", "Too many requests", detail, headers=rate_limit_headers(decision))


# ------------------------------------------------------------------ edge checks
_OTHER_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def utf8_text(body: bytes) -> tuple[str, None] | tuple[None, str]:
    """``(text, None)`` for a body in UTF-8, else ``(None, why)``. JSON between systems is UTF-8
    (RFC 8259, section 8.1), so UTF-16 and UTF-32 - which ``json.loads`` on bytes would quietly
    accept, and the resolver would then fail to read - are refused, and so is a byte order mark:
    the RFC forbids sending one and lets a parser refuse it; refusing keeps every route alike
    (the resolver's own parser refuses it too) and the body exactly what was sent."""
    if body.startswith(codecs.BOM_UTF8):
        return None, "the body starts with a byte order mark; send UTF-8 JSON without one (RFC 8259, 8.1)"
    if body.startswith(_OTHER_BOMS):
        return None, "the body starts with a UTF-16 or UTF-32 byte order mark; send UTF-8 JSON (RFC 8259, 8.1)"
    if b"\x00" in body:  # never in JSON text; the mark of UTF-16 or UTF-32 without a byte order mark
        return None, "the body holds NUL bytes (UTF-16 or UTF-32?); send UTF-8 JSON"
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"the body is not UTF-8 (byte {exc.start} is not valid there); send UTF-8 JSON"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_strict(text: bytes | str, **kwargs: Any) -> Any:
    """json.loads that rejects NaN and Infinity, which JSON does not have."""
    return json.loads(text, parse_constant=_reject_constant, **kwargs)


class Edge:
    """Callable that guards ``app.resolve`` for one function."""

    def __init__(
        self,
        app: APIGatewayHttpResolver,
        *,
        key_is_active: Callable[[str], bool],
        media_types: tuple[str, ...] = ("application/json",),
        check_json: bool = True,
        json_constants: bool = False,
        rate_limit: RateCheck | None,
        prepare: Callable[[dict[str, Any]], None] | None = None,
        on_rate_limited: Callable[[RateDecision], Response] = rate_limited_problem,
    ):
        """``check_json`` False leaves the JSON syntax to the route (the body must still be
        UTF-8). ``json_constants`` lets ``NaN``/``Infinity`` through the syntax check, for a route
        whose validation names the field instead (422). ``rate_limit`` None turns the rate
        limit off; ``on_rate_limited`` shapes its 429 (problem+json unless a route says otherwise).
        ``prepare`` sees every request first, before any check (a function's own metric, or a
        header it normalizes)."""
        self.app = app
        self.key_is_active = key_is_active
        self.media_types = media_types
        self.check_json = check_json
        self.json_constants = json_constants
        self.rate_limit = rate_limit
        self.on_rate_limited = on_rate_limited
        self.prepare = prepare

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self.prepare is not None:
            self.prepare(event)
        self.app.clear_context()
        early = self._check(event)
        if early is not None:
            return problems.as_v2_response(early)
        # Powertools' resolve() keeps the request in class attributes (BaseRouter.current_event,
        # .lambda_context), shared by every resolver in the process; the route then reads its
        # body from there. Bound to this resolver, a request is read from its own event even
        # when another environment's resolver runs concurrently in this process (the local
        # runtime, the in-process tests); on Lambda one request at a time sees no difference.
        self.app.current_event = self.app._to_proxy_event(event)  # noqa: SLF001 - resolve()'s own conversion
        self.app.lambda_context = context
        return self.app.resolve(event, context)

    def _check(self, event: dict[str, Any]) -> Response | None:
        http = event.get("requestContext", {}).get("http", {})
        method = http.get("method", "GET").upper()
        path = event.get("rawPath") or http.get("path") or "/"
        if (method, path) not in PUBLIC_ROUTES and not is_console(method, path):
            denied = self._authenticate(event) or self._rate_limited()
            if denied is not None:
                return denied
        if method not in BODY_METHODS:
            return None
        body = raw_body(event)
        if len(body) > MAX_BODY_BYTES:
            return problems.too_large(len(body), MAX_BODY_BYTES)
        headers = event.get("headers") or {}
        mt = media_type(headers)
        if body and mt not in self.media_types:
            return problems.unsupported_media_type(mt, list(self.media_types))
        if not body:
            return None
        text, not_utf8 = utf8_text(body)
        if not_utf8 is not None:
            return problems.bad_request(not_utf8)
        if self.check_json:
            try:
                json.loads(text) if self.json_constants else loads_strict(text)
            except (ValueError, RecursionError) as exc:
                return problems.bad_request(f"malformed JSON: {exc}")
        return None

    def _authenticate(self, event: dict[str, Any]) -> Response | None:
        ctx = event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
        p = Principal.from_context(ctx)
        if p is None:
            reason = ctx.get("error") or "missing"
            detail = {
                "missing": "send your key as `Authorization: Bearer <key>` or `X-Api-Key: <key>`",
                "invalid": "the API key is unknown",
                "revoked": "the API key has been revoked",
            }.get(reason, "the API key is not valid")
            return problems.from_error(Unauthenticated(detail), {"WWW-Authenticate": 'Bearer realm="tollgate"'})
        # The authorizer's answer may be cached; revocation must still be immediate.
        if not self.key_is_active(p.key_id):
            return problems.from_error(
                Unauthenticated("the API key has been revoked"), {"WWW-Authenticate": 'Bearer realm="tollgate"'}
            )
        self.app.append_context(principal=p)
        return None

    def _rate_limited(self) -> Response | None:
        if self.rate_limit is None:
            return None
        decision = self.rate_limit(self.app.context["principal"])
        if decision is None or decision.allowed:
            return None
        return self.on_rate_limited(decision)
