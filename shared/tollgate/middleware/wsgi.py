"""``TollgateWSGIMiddleware``: one usage event per request of a WSGI application (Flask,
Django, ...), and optional enforcement before it runs.

The request ends when the server closes the response iterable (PEP 3333 obliges it to), so the
event is tracked in ``close()``: the response bytes are those the iterable yielded (streaming
included) plus any written through ``start_response``'s ``write``. ``client.track`` only buffers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tollgate.client import Tollgate
from tollgate.client._ids import new_id
from tollgate.middleware import _policy
from tollgate.middleware._policy import Gate, Settings
from tollgate.middleware.routes import UNMATCHED, wsgi_route

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], Any]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class TollgateWSGIMiddleware:
    def __init__(
        self,
        app: WSGIApp,
        *,
        base_url: str | None = None,
        key: str | None = None,
        client: Any = None,
        tenant: Callable[[Environ], str | None],
        meter: str = "api_calls",
        enforce: bool | str | None = None,
        failure: str = "open",
        route: Callable[[Environ], str | None] | None = None,
    ) -> None:
        self.app = app
        self.settings = Settings.build(tenant=tenant, meter=meter, enforce=enforce, failure=failure, route=route)
        self.client, self.owns_client = _policy.own_client(client, base_url, key, Tollgate)

    def close(self) -> None:
        """Flush what is buffered; close the client if the middleware built it."""
        if self.owns_client:
            self.client.close()
        else:
            self.client.flush()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        subject = _tenant_of(self.settings, environ)
        if subject is None:
            return self.app(environ, start_response)
        event_id = new_id()
        gate = self._gate(subject, event_id) if self.settings.enforce else _policy.OPEN
        if gate.reply is not None:
            start_response(gate.reply.status_line, list(gate.reply.headers))
            return [gate.reply.body]
        request = _Request(self, subject, event_id, environ, started, gate, start_response)
        try:
            result = self.app(environ, request.start_response)
        except BaseException:
            request.status = request.status or 500
            request.finish()
            raise
        return _Response(result, request)

    def _gate(self, subject: str, event_id: str) -> Gate:
        consume_id = event_id if self.settings.same_meter else new_id()
        try:
            decision = self.client.consume(self.settings.enforce, 1, id=consume_id, tenant=subject, max_retries=1)
            return _policy.from_decision(decision, self.settings)
        except Exception as exc:  # noqa: BLE001 - any failure to decide follows the failure policy
            return _policy.from_error(exc, self.settings)


def _tenant_of(settings: Settings, environ: Environ) -> str | None:
    try:
        return settings.tenant(environ)
    except Exception as exc:  # noqa: BLE001 - the application's callable: not tracked, logged
        _policy.limited.error("tenant", "the tenant callable raised, request not tracked: %r", exc)
        return None


class _Request:
    """One tracked request: its status, byte counts, and the event sent when it finishes."""

    __slots__ = (
        "_owner",
        "_subject",
        "_id",
        "_environ",
        "_started",
        "_gate",
        "_start",
        "_write",
        "status",
        "sent",
        "done",
        "route",
    )

    def __init__(
        self,
        owner: TollgateWSGIMiddleware,
        subject: str,
        event_id: str,
        environ: Environ,
        started: float,
        gate: Gate,
        start_response: StartResponse,
    ) -> None:
        self._owner, self._subject, self._id, self._environ = owner, subject, event_id, environ
        self._started, self._gate, self._start = started, gate, start_response
        self.status, self.sent, self.done = 0, 0, False
        self.route: str | None = None
        self._write: Callable[[bytes], Any] | None = None
        if _policy.content_length(environ.get("CONTENT_LENGTH") or None) is None and "wsgi.input" in environ:
            environ["wsgi.input"] = _CountingInput(environ["wsgi.input"])

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], Any]:
        self.status = _status_code(status)
        self.route = wsgi_route(self._environ)  # Flask clears its request from the environ before returning
        if self._gate.headers:
            present = {name.lower() for name, _ in headers}
            headers = [*headers, *((k, v) for k, v in self._gate.headers if k not in present)]
        self._write = self._start(status, headers, exc_info) if exc_info is not None else self._start(status, headers)
        return self.write

    def write(self, data: bytes) -> Any:
        self.sent += len(data)
        assert self._write is not None
        return self._write(data)

    def finish(self) -> None:
        if self.done or not self._gate.track:
            return
        self.done = True
        settings = self._owner.settings
        try:
            data = _policy.usage_data(
                _route_of(settings, self._environ, self.route),
                self._environ.get("REQUEST_METHOD", "GET"),
                self.status or 500,
                time.perf_counter() - self._started,
                _request_bytes(self._environ),
                self.sent,
            )
            self._owner.client.track(settings.meter, id=self._id, subject=self._subject, data=data)
        except Exception as exc:  # noqa: BLE001 - tracking must never break the application
            _policy.limited.error("track", "tracking a request failed: %r", exc)


class _Response:
    """The application's iterable, counting the bytes it yields; ``close()`` closes it, then
    tracks the request (the server calls ``close()`` once the response is sent)."""

    __slots__ = ("_result", "_request")

    def __init__(self, result: Iterable[bytes], request: _Request) -> None:
        self._result, self._request = result, request

    def __iter__(self) -> Iterator[bytes]:
        request = self._request
        for chunk in self._result:
            request.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._request.finish()


class _CountingInput:
    """``wsgi.input`` counting the bytes the application reads (no Content-Length declared)."""

    __slots__ = ("_stream", "read_bytes")

    def __init__(self, stream: Any) -> None:
        self._stream, self.read_bytes = stream, 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size) if size is not None and size >= 0 else self._stream.read()
        self.read_bytes += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data: bytes = self._stream.readline(size) if size is not None and size >= 0 else self._stream.readline()
        self.read_bytes += len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _status_code(status: str) -> int:
    try:
        return int(status[:3])
    except ValueError:
        return 0


def _request_bytes(environ: Environ) -> int:
    stream = environ.get("wsgi.input")
    if isinstance(stream, _CountingInput):
        return stream.read_bytes
    return _policy.content_length(environ.get("CONTENT_LENGTH") or None) or 0


def _route_of(settings: Settings, environ: Environ, found: str | None) -> str:
    if settings.route is not None:
        try:
            chosen = settings.route(environ)
        except Exception as exc:  # noqa: BLE001 - the application's callable
            _policy.limited.error("route", "the route callable raised: %r", exc)
            chosen = None
        if chosen is not None:
            return chosen
    return found or UNMATCHED
