"""The operator CLI's HTTP client: the Tollgate API over urllib (standard library only, so the
CLI works from a plain ``pip install tollgate`` and starts fast).

Every failure becomes a :class:`CliError` carrying the exit code that says what happened
(docs/cli.md, "Exit codes"). The API key goes in the ``Authorization`` header of API requests
only: never to a presigned URL a 302 points at, never into a message."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

OK = 0
REFUSED = 1  # the API answered 4xx (other than 404): bad input, a conflict, a key without the scope
USAGE = 2  # the command line is wrong (argparse's own code), or no URL/key was given
UNREACHABLE = 3  # nothing answered, a timeout, a 5xx, or an answer that is not the API's
NOT_FOUND = 4  # the API answered 404: the tenant, invoice, run or report does not exist

TIMEOUT_S = 60.0


class CliError(Exception):
    """What went wrong, said in a few lines, and the exit code for it."""

    def __init__(self, code: int, message: str, problem: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problem = problem


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON; a CliError (unreachable) when it is not: not the Tollgate API."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as error:
            raise CliError(
                UNREACHABLE, f"the answer (HTTP {self.status}) is not JSON: is the URL Tollgate's API?"
            ) from error


Transport = Callable[[urllib.request.Request, float], Answer]
"""Sends one request; an HTTP error status is an Answer, not an exception. Raises OSError
(urllib.error.URLError included) when nothing answers. Tests pass a stub."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 comes back as an answer: its Location is fetched without the key


_OPENER = urllib.request.build_opener(_NoRedirect)


def urllib_transport(request: urllib.request.Request, timeout: float) -> Answer:
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, dict(error.headers.items()), error.read())


def render_problem(status: int, document: Any) -> str:
    """A problem document (RFC 9457) as lines: ``title (status): detail`` and one line per field error."""
    if not isinstance(document, dict):
        return f"HTTP {status}"
    title = document.get("title") or f"HTTP {status}"
    fields = [
        f"{e.get('field', '?')}: {e.get('message', '')}" for e in document.get("errors") or [] if isinstance(e, dict)
    ]
    detail = document.get("detail")
    said = {title, *fields, *(f.partition(": ")[2] for f in fields)}  # a detail repeating a field error is left out
    head = f"{title} ({status})" + (f": {detail}" if detail and detail not in said else "")
    return "\n".join([head, *(f"  {f}" for f in fields)])


def error_for(answer: Answer) -> CliError:
    """The CliError for an answer that is not a success."""
    try:
        document = answer.json()
    except CliError:
        document = None
    code = NOT_FOUND if answer.status == 404 else REFUSED if 400 <= answer.status < 500 else UNREACHABLE
    if document is None and answer.status >= 500:
        return CliError(code, f"the API failed (HTTP {answer.status}); try again, or see the stack's log")
    return CliError(code, render_problem(answer.status, document), document if isinstance(document, dict) else None)


class ApiClient:
    def __init__(self, base_url: str, key: str, transport: Transport = urllib_transport) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CliError(USAGE, f"the API URL must look like http://host:port, not {base_url!r}")
        if not key:
            raise CliError(USAGE, "no API key: pass --key or set TOLLGATE_KEY (an admin key)")
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._transport = transport

    def __repr__(self) -> str:  # never the key
        return f"ApiClient({self.base_url!r})"

    def send(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None, *, ok: tuple[int, ...]
    ) -> Answer:
        """The answer when its status is one of ``ok``; else a CliError."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = f"{self.base_url}{path}" + (f"?{urlencode(query)}" if query else "")
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        answer = self._call(urllib.request.Request(url, data=data, method=method, headers=headers))
        if answer.status not in ok:
            raise error_for(answer)
        return answer

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.send("GET", path, params, ok=(200,)).json()

    def post(self, path: str, body: Any, ok: tuple[int, ...] = (200, 201, 202)) -> Any:
        return self.send("POST", path, body=body, ok=ok).json()

    def put(self, path: str, body: Any) -> Any:
        return self.send("PUT", path, body=body, ok=(200,)).json()

    def download(self, path: str, params: Mapping[str, Any] | None = None) -> Answer:
        """GET a document: its body when the API answers 200, or, on a 302, the body of the
        URL it names (fetched without the API key: a presigned link needs none)."""
        answer = self.send("GET", path, params, ok=(200, 301, 302, 303, 307))
        if answer.status == 200:
            return answer
        location = {k.lower(): v for k, v in answer.headers.items()}.get("location")
        if not location:
            try:
                location = answer.json()["url"]
            except (ValueError, KeyError, TypeError) as error:
                raise CliError(UNREACHABLE, f"the API answered {answer.status} without a Location") from error
        target = self._call(urllib.request.Request(urljoin(self.base_url + "/", location)))
        if target.status != 200:
            raise CliError(UNREACHABLE, f"the document's link answered HTTP {target.status}")
        return target

    def _call(self, request: urllib.request.Request) -> Answer:
        try:
            return self._transport(request, TIMEOUT_S)
        except (OSError, ValueError) as error:  # URLError, refused, timeout, reset; ValueError: a bad URL
            reason = getattr(error, "reason", None) or error
            raise CliError(UNREACHABLE, f"cannot reach the API at {self.base_url}: {reason}") from error
