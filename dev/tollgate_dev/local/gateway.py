"""An HTTP API (API Gateway v2) emulator: routes, Lambda authorizer, payload format 2.0.

Routes come from every function's ``HttpApi`` events. A request is matched with API Gateway's
priority (exact paths, then ``{param}`` paths, then ``{proxy+}``, then ``$default``; a named
method beats ``ANY``), authorized by the API's Lambda authorizer (simple responses, payload 2.0)
unless the route says ``Authorizer: NONE``, and handed to the function as a v2 event. The
function's v2 response becomes the HTTP response. ``/_local/...`` is reserved for the local
stack's own control endpoints: they answer loopback clients only, and only with the credential
``control_auth`` accepts (the local stack: an admin key), so a web page open in the developer's
browser cannot fire a schedule.

The HTTP layer answers what never reaches a route itself, as RFC 9457 problem documents (the
API's error shape, ``application/problem+json``): a malformed request (400), a body too slow
to arrive (408, after ``REQUEST_TIMEOUT_S``), a body over API Gateway's 10 MiB (413, judged by
``Content-Length`` before reading anything), a request line over 64 KiB (414), header fields
too large or too many (431), HTTP/2 or later (505), and any request on a kept-alive connection
once the stack is stopping (503).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from .faults import FaultRegistry, gateway_answer
from .runtime import FunctionRuntime
from .template import Template, TemplateError

logger = logging.getLogger("tollgate.local.gateway")

CONTROL_PREFIX = "/_local/"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload quota
REQUEST_TIMEOUT_S = 30.0  # a socket read or write that waits longer ends the connection
PROBLEM_JSON = "application/problem+json"
_IMPLICIT_API = "ServerlessHttpApi"  # SAM's API for HttpApi events without ApiId

# (method, path after /_local, the request: query and body) -> (status, json)
ControlHandler = Callable[[str, str, "HttpRequest"], tuple[int, Any]]
ControlAuth = Callable[["HttpRequest"], bool]  # does the request carry the control credential?

# status -> (type slug, title) of the problems the gateway itself answers
_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "The HTTP request is malformed"),
    401: ("unauthenticated", "Missing, unknown or revoked API key"),
    408: ("request-timeout", "The request did not arrive in time"),
    413: ("payload-too-large", "Payload too large"),
    414: ("uri-too-long", "The request line is too long"),
    431: ("header-fields-too-large", "The request header fields are too large"),
    501: ("not-implemented", "Not implemented"),
    503: ("stopping", "The local stack is stopping"),
    505: ("http-version-not-supported", "The HTTP version is not supported"),
}


# ------------------------------------------------------------------ routes
@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer (payload 2.0, simple responses)."""

    name: str
    function_id: str
    identity_headers: tuple[str, ...] = ()
    identity_query: tuple[str, ...] = ()
    ttl_s: int = 0


@dataclass(frozen=True)
class Route:
    """One HttpApi event: ``METHOD /path`` (or ``$default``) -> function."""

    method: str  # upper-case, or ANY
    path: str  # "/v1/meters/{key}", "/files/{proxy+}" or "$default"
    function_id: str
    authorizer: Authorizer | None = None

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def priority(self) -> tuple[Any, ...]:
        """Sort key: lower wins. Exact < ``{param}`` < ``{proxy+}`` < ``$default``; then literal
        segments before variables, left to right; then a named method before ANY."""
        if self.path == "$default":
            return (3,)
        segments = self.path.split("/")[1:]
        kinds = tuple(2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in segments)
        return (max(kinds, default=0), kinds, self.method == "ANY")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters (URL-decoded) when this route takes the request, else None."""
        if self.method not in ("ANY", method):
            return None
        if self.path == "$default":
            return {}
        wanted, got = self.path.split("/")[1:], path.split("/")[1:]
        params: dict[str, str] = {}
        for index, segment in enumerate(wanted):
            if segment.endswith("+}"):
                rest = "/".join(got[index:])
                if not rest:
                    return None
                params[segment[1:-2]] = unquote(rest)
                return params
            if index >= len(got):
                return None
            if segment.startswith("{"):
                if not got[index]:
                    return None
                params[segment[1:-1]] = unquote(got[index])
            elif segment != got[index]:
                return None
        return params if len(got) == len(wanted) else None


class RouteTable:
    """Routes in API Gateway's priority order."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = sorted(routes, key=Route.priority)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None


def _api_properties(template: Template, api_id: str) -> dict[str, Any]:
    if api_id == _IMPLICIT_API and api_id not in template.resources:
        return template.resolve((template.document.get("Globals") or {}).get("HttpApi") or {})
    return template.properties(api_id)


def _authorizers(template: Template, api_id: str) -> tuple[dict[str, Authorizer], str | None]:
    auth = _api_properties(template, api_id).get("Auth") or {}
    authorizers: dict[str, Authorizer] = {}
    for name, config in (auth.get("Authorizers") or {}).items():
        if "FunctionArn" not in config:
            raise TemplateError(f"authorizer {name}: only Lambda authorizers are emulated")
        simple = config.get("EnableSimpleResponses") in (True, "true")
        if str(config.get("AuthorizerPayloadFormatVersion")) != "2.0" or not simple:
            raise TemplateError(f"authorizer {name}: only payload 2.0 with simple responses is emulated")
        identity = config.get("Identity") or {}
        authorizers[name] = Authorizer(
            name=name,
            function_id=template.function_id_for_arn(config["FunctionArn"]),
            identity_headers=tuple(h.lower() for h in identity.get("Headers", [])),
            identity_query=tuple(identity.get("QueryStrings", [])),
            ttl_s=int(identity.get("ReauthorizeEvery", 0)),
        )
    return authorizers, auth.get("DefaultAuthorizer")


def routes_from_template(template: Template) -> tuple[RouteTable, str]:
    """Every HttpApi event as a route, and the physical id of the (single) API they belong to."""
    routes: list[Route] = []
    api_ids: set[str] = set()
    for function in template.functions().values():
        for event in function.events.values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            api_ref = props.get("ApiId", {"Ref": _IMPLICIT_API})
            if not (isinstance(api_ref, dict) and "Ref" in api_ref):
                raise TemplateError(f"{function.logical_id}: ApiId must be !Ref of an HttpApi")
            api_ids.add(api_ref["Ref"])
            props = template.resolve({k: v for k, v in props.items() if k != "ApiId"})
            authorizers, default = _authorizers(template, api_ref["Ref"])
            name = (props.get("Auth") or {}).get("Authorizer", default)
            routes.append(
                Route(
                    method=str(props.get("Method", "ANY")).upper(),
                    path=props.get("Path", "$default"),
                    function_id=function.logical_id,
                    authorizer=None if name in (None, "NONE") else authorizers[name],
                )
            )
    if len(api_ids) > 1:
        raise TemplateError(f"the local gateway serves one HTTP API; the template uses {sorted(api_ids)}")
    api = next(iter(api_ids), _IMPLICIT_API)
    api_id = template.physical_name(api) if api in template.resources else f"{template.stack_name}-{api.lower()}"
    return RouteTable(routes), api_id


# ------------------------------------------------------------------ events and responses
@dataclass
class HttpRequest:
    method: str
    path: str  # as sent, without the query string
    query: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _json_response(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(document).encode())


def problem_document(status: int, detail: str, field_name: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem in the API's shape (tollgate/api/problems.py), for the gateway's own errors."""
    slug, title = _PROBLEMS.get(status, ("error", "Error"))
    errors = [{"field": field_name, "message": detail}] if field_name else []
    return {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, "errors": errors}


def problem_response(status: int, detail: str, field_name: str | None = None) -> HttpResponse:
    body = json.dumps(problem_document(status, detail, field_name)).encode()
    headers = [("content-type", PROBLEM_JSON)]
    if status == 401:
        headers.append(("www-authenticate", "Bearer"))
    return HttpResponse(status, headers, body)


def _joined(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def http_event(
    request: HttpRequest,
    route: Route,
    path_parameters: Mapping[str, str],
    *,
    api_id: str,
    account_id: str,
    request_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload format 2.0 event for ``request``."""
    lowered = [(name.lower(), value) for name, value in request.headers]
    headers = _joined([(name, value) for name, value in lowered if name != "cookie"])
    cookies = [c.strip() for name, v in lowered if name == "cookie" for c in v.split(";") if c.strip()]
    domain = headers.get("host", "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if request.query:
        event["queryStringParameters"] = _joined(parse_qsl(request.query, keep_blank_values=True))
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        try:
            event["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def authorizer_event(http: Mapping[str, Any], authorizer: Authorizer, *, region: str) -> dict[str, Any]:
    """The v2 REQUEST authorizer event for an HTTP event (no body, plus routeArn and identitySource)."""
    context = http["requestContext"]
    route_arn = (
        f"arn:aws:execute-api:{region}:{context['accountId']}:{context['apiId']}"
        f"/{context['stage']}/{context['http']['method']}{http['rawPath']}"
    )
    event = {k: v for k, v in http.items() if k not in ("body", "isBase64Encoded")}
    event.update(type="REQUEST", routeArn=route_arn, identitySource=identity_values(http, authorizer) or [])
    return event


def identity_values(http: Mapping[str, Any], authorizer: Authorizer) -> list[str] | None:
    """The identity-source values, or None when one of them is missing from the request."""
    headers = http.get("headers") or {}
    query = http.get("queryStringParameters") or {}
    values = [headers.get(name) for name in authorizer.identity_headers]
    values += [query.get(name) for name in authorizer.identity_query]
    return None if any(v is None for v in values) else [str(v) for v in values]


def http_response(result: Any) -> HttpResponse:
    """A function's payload 2.0 result as an HTTP response (API Gateway's interpretation rules)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return _json_response(200, result)
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in values]
    headers += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or []]
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = str(body).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, payload)


# ------------------------------------------------------------------ the gateway


class Gateway:
    """Turns HTTP requests into authorizer and handler invocations."""

    def __init__(
        self,
        routes: RouteTable,
        runtimes: Mapping[str, FunctionRuntime],
        *,
        api_id: str,
        region: str,
        account_id: str,
        control: ControlHandler | None = None,
        control_auth: ControlAuth | None = None,
        faults: FaultRegistry | None = None,
    ) -> None:
        """``faults``: injected failures (faults.py), asked before and after each invocation."""
        self.routes = routes
        self.faults = faults
        self.runtimes = runtimes
        self.api_id = api_id
        self.region = region
        self.account_id = account_id
        self.control = control
        self.control_auth = control_auth
        self._auth_cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any] | None]] = {}
        self._auth_lock = threading.Lock()

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Route, authorize and invoke; never raises."""
        if request.path.startswith(CONTROL_PREFIX) and self.control is not None:
            return self._control_response(request, self.control)
        if (fault := self._fault(request, "before")) is not None:
            return fault
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return problem_response(413, _too_large(len(request.body)), "body")
        matched = self.routes.match(request.method, request.path)
        if matched is None:
            return _json_response(404, {"message": "Not Found"})
        route, params = matched
        request_id = str(uuid.uuid4())
        event = http_event(
            request,
            route,
            params,
            api_id=self.api_id,
            account_id=self.account_id,
            request_id=request_id,
            now=datetime.now(UTC),
        )
        response = self._invoke(route, event)
        response = self._fault(request, "after") or response  # processed, but the answer is lost
        response.headers.append(("apigw-requestid", request_id))
        return response

    def _control_response(self, request: HttpRequest, control: ControlHandler) -> HttpResponse:
        if not ipaddress.ip_address(request.source_ip).is_loopback:
            return _json_response(403, {"message": "Forbidden"})
        if self.control_auth is not None and not self.control_auth(request):
            return problem_response(
                401, "the local control endpoints need the admin key: Authorization: Bearer <key> or X-Api-Key"
            )
        status, document = control(request.method, request.path[len(CONTROL_PREFIX) - 1 :], request)
        return _json_response(status, document)

    def _fault(self, request: HttpRequest, phase: str) -> HttpResponse | None:
        fault = self.faults.gateway_hit(request.method, request.path, phase) if self.faults is not None else None
        if fault is None:
            return None
        logger.info(
            "injected fault #%d: %s %s answered %d (%s)", fault.id, request.method, request.path, fault.status, phase
        )
        return HttpResponse(*gateway_answer(fault))

    def _invoke(self, route: Route, event: dict[str, Any]) -> HttpResponse:
        try:
            if route.authorizer is not None:
                authorizer = route.authorizer
                identity = identity_values(event, authorizer)
                if identity is None:
                    return _json_response(401, {"message": "Unauthorized"})
                context = self._authorize(authorizer, event, tuple(identity))
                if context is None:
                    return _json_response(403, {"message": "Forbidden"})
                event["requestContext"]["authorizer"] = {"lambda": context}
            # Each execution environment has its own resolver and request state (its own
            # import of the function's app.py and composition root): handlers run concurrently.
            return http_response(self.runtimes[route.function_id].invoke(event))
        except Exception:
            logger.exception("%s failed on %s", route.function_id, route.route_key)
            return _json_response(500, {"message": "Internal Server Error"})

    def _authorize(self, authorizer: Authorizer, event: dict[str, Any], identity: tuple[str, ...]) -> dict | None:
        """The authorizer's context when it allows the request, else None (cached per identity)."""
        cacheable = authorizer.ttl_s > 0 and identity
        key = (authorizer.name, identity)
        if cacheable:
            with self._auth_lock:
                expires, cached = self._auth_cache.get(key, (0.0, None))
            if expires > time.monotonic():
                return cached
        result = self.runtimes[authorizer.function_id].invoke(authorizer_event(event, authorizer, region=self.region))
        if not isinstance(result, dict) or not isinstance(result.get("isAuthorized"), bool):
            raise ValueError(f"authorizer {authorizer.name} returned no boolean isAuthorized")
        context = (result.get("context") or {}) if result["isAuthorized"] else None
        if cacheable:
            with self._auth_lock:
                self._auth_cache[key] = (time.monotonic() + authorizer.ttl_s, context)
        return context


def _too_large(size: int) -> str:
    return f"the body is {size} bytes; the gateway's limit is {MAX_PAYLOAD_BYTES} bytes (API Gateway's 10 MiB)"


class _BadBody(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tollgate-local"
    timeout = REQUEST_TIMEOUT_S  # every socket read and write; a silent client cannot hold a thread
    server: GatewayServer

    def setup(self) -> None:
        self.timeout = self.server.request_timeout_s
        super().setup()

    def _handle(self) -> None:
        if not self.server.begin_request():
            self._send_problem(503, "the local stack is stopping; it answers no new requests")
            return
        try:
            self._handle_request()
        finally:
            self.server.end_request()

    def _handle_request(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
        except _BadBody as error:
            self._send_problem(error.status, error.detail, "body")
            return
        except TimeoutError:
            self._send_problem(408, f"the body did not arrive within {self.timeout:g} s of the previous bytes", "body")
            return
        request = HttpRequest(
            method=self.command,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response = self.server.gateway.handle(request)
        self._send(response)

    def _send(self, response: HttpResponse, *, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        if close:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _send_problem(self, status: int, detail: str, field_name: str | None = None) -> None:
        """Answer a problem and close the connection (what is left of the request is unread)."""
        self._send(problem_response(status, detail, field_name), close=True)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (400, 414, 431, 505, ...) as problem documents, not HTML."""
        self.log_error("code %d, message %s", code, message)
        if self.request_version in ("", "HTTP/0.9"):
            self.request_version = self.protocol_version  # answer with a status line and headers
        detail = message or self.responses.get(code, ("error",))[0]
        if explain and explain != detail:
            detail = f"{detail}: {explain}"
        self._send(problem_response(code, detail), close=True)

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` with a body that is too large: 413 now, before it is sent."""
        try:
            self._content_length()
        except _BadBody as error:
            self._send_problem(error.status, error.detail, "body")
            return False
        return super().handle_expect_100()

    def _content_length(self) -> int:
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return 0
        if len(set(values)) > 1 or not values[0].strip().isdigit():
            raise _BadBody(400, f"Content-Length {', '.join(values)!r} is not one whole number of bytes")
        length = int(values[0])
        if length > MAX_PAYLOAD_BYTES:
            raise _BadBody(413, _too_large(length))
        return length

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self._content_length()
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _BadBody(400, f"the body ended after {len(body)} of the {length} bytes its Content-Length announced")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadBody(400, f"malformed chunk size {line[:40]!r}") from None
            if size == 0:
                break
            total += size
            if total > MAX_PAYLOAD_BYTES:
                raise _BadBody(413, _too_large(total))
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BadBody(400, "the body ended inside a chunk")
            chunks.append(chunk)
            self.rfile.readline()
        while self.rfile.readline(8192).strip():  # trailers
            pass
        return b"".join(chunks)

    def __getattr__(self, name: str) -> Any:
        """Every method (``do_TRACE``, ``do_QUERY``, ...) reaches the routes, as an ANY route in
        API Gateway would, so an unsupported one gets the API's problem+json 404, not a bare 501."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


class GatewayServer(ThreadingHTTPServer):
    """A threaded HTTP server in front of a ``Gateway``.

    ``stop_accepting()`` closes the listening socket and makes any further request on a
    kept-alive connection answer 503; ``wait_idle()`` then waits for the requests already being
    handled."""

    daemon_threads = True

    def __init__(self, gateway: Gateway, host: str, port: int, *, request_timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.gateway = gateway
        self.request_timeout_s = request_timeout_s
        self.closing = False
        self._active = 0
        self._idle = threading.Condition()
        super().__init__((host, port), _RequestHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def begin_request(self) -> bool:
        """Count a request in; False once the server is stopping."""
        with self._idle:
            if self.closing:
                return False
            self._active += 1
            return True

    def end_request(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def stop_accepting(self) -> None:
        with self._idle:
            self.closing = True
        self.shutdown()
        self.server_close()

    def wait_idle(self, timeout: float) -> bool:
        """True once no request is being handled; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout=timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-response is one log line, not a traceback."""
        error = sys.exc_info()[1]
        where = ":".join(str(part) for part in client_address) if isinstance(client_address, tuple) else client_address
        if isinstance(error, (ConnectionError, TimeoutError, socket.timeout)):
            logger.info("client %s went away mid-request (%s)", where, type(error).__name__)
        else:
            logger.exception("error while serving %s", where)
