"""``TollgateASGIMiddleware``: one usage event per HTTP request of an ASGI application
(Starlette, FastAPI, Django's ASGI handler, ...), and optional enforcement before it runs.

Nothing here imports a framework: the route template is read from what the router leaves in the
scope (see routes.py). Tracking is ``await client.track(...)``, which only buffers: the request
path makes no network call unless enforcement is on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tollgate.client import AsyncTollgate
from tollgate.client._ids import new_id
from tollgate.middleware import _policy
from tollgate.middleware._policy import Gate, Reply, Settings
from tollgate.middleware.routes import UNMATCHED, asgi_route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TollgateASGIMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        base_url: str | None = None,
        key: str | None = None,
        client: Any = None,
        tenant: Callable[[Scope], str | None],
        meter: str = "api_calls",
        enforce: bool | str | None = None,
        failure: str = "open",
        route: Callable[[Scope], str | None] | None = None,
    ) -> None:
        self.app = app
        self.settings = Settings.build(tenant=tenant, meter=meter, enforce=enforce, failure=failure, route=route)
        self.client, self.owns_client = _policy.own_client(client, base_url, key, AsyncTollgate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
        else:
            await self.app(scope, receive, send)

    async def aclose(self) -> None:
        """Flush what is buffered; close the client if the middleware built it."""
        if self.owns_client:
            await self.client.aclose()
        else:
            await self.client.flush()

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                try:
                    await self.aclose()
                except Exception as exc:  # noqa: BLE001 - shutting down: log, never raise into the server
                    _policy.limited.error("close", "flushing usage at shutdown failed: %r", exc)
            await send(message)

        return lifespan_send

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        subject = _tenant_of(self.settings, scope)
        if subject is None:
            await self.app(scope, receive, send)
            return
        event_id = new_id()
        gate = await self._gate(subject, event_id) if self.settings.enforce else _policy.OPEN
        if gate.reply is not None:
            await _answer(send, gate.reply)
            return
        probe = _Probe(scope, receive, send, gate.headers)
        top, root_path = scope.get("app", self.app), scope.get("root_path", "")
        try:
            await self.app(scope, probe.receive if probe.counting else receive, probe.send)
        except BaseException:
            probe.failed()
            raise
        finally:
            if gate.track:
                await self._track(subject, event_id, scope, probe, started, top, root_path)

    async def _gate(self, subject: str, event_id: str) -> Gate:
        consume_id = event_id if self.settings.same_meter else new_id()
        try:
            decision = await self.client.consume(self.settings.enforce, 1, id=consume_id, tenant=subject, max_retries=1)
            return _policy.from_decision(decision, self.settings)
        except Exception as exc:  # noqa: BLE001 - any failure to decide follows the failure policy
            return _policy.from_error(exc, self.settings)

    async def _track(
        self, subject: str, event_id: str, scope: Scope, probe: _Probe, started: float, top: Any, root_path: str
    ) -> None:
        try:
            route = _route_of(self.settings, scope, top, root_path)
            data = _policy.usage_data(
                route,
                scope.get("method", "GET"),
                probe.status or 500,  # no response sent: the server answers 500
                (probe.ended or time.perf_counter()) - started,
                probe.request_bytes,
                probe.response_bytes,
            )
            await self.client.track(self.settings.meter, id=event_id, subject=subject, data=data)
        except Exception as exc:  # noqa: BLE001 - tracking must never break the application
            _policy.limited.error("track", "tracking a request failed: %r", exc)


def _tenant_of(settings: Settings, scope: Scope) -> str | None:
    try:
        return settings.tenant(scope)
    except Exception as exc:  # noqa: BLE001 - the application's callable: not tracked, logged
        _policy.limited.error("tenant", "the tenant callable raised, request not tracked: %r", exc)
        return None


def _route_of(settings: Settings, scope: Scope, top: Any, root_path: str) -> str:
    if settings.route is not None:
        try:
            chosen = settings.route(scope)
        except Exception as exc:  # noqa: BLE001 - the application's callable
            _policy.limited.error("route", "the route callable raised: %r", exc)
            chosen = None
        if chosen is not None:
            return chosen
    return asgi_route(scope, top, root_path) or UNMATCHED  # type: ignore[arg-type]


async def _answer(send: Send, reply: Reply) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body, "more_body": False})


class _Probe:
    """Wraps receive and send: counts the body bytes both ways, notes the status and the time of
    the last body chunk, and adds the decision's RateLimit headers the app did not set."""

    __slots__ = ("_receive", "_send", "_extra", "counting", "request_bytes", "response_bytes", "status", "ended")

    def __init__(self, scope: Scope, receive: Receive, send: Send, extra: tuple[tuple[str, str], ...]) -> None:
        self._receive, self._send, self._extra = receive, send, extra
        self.response_bytes, self.status, self.ended = 0, 0, 0.0
        declared = _declared_length(scope.get("headers", ()))
        self.counting = declared is None
        self.request_bytes = declared or 0

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.request_bytes += len(message.get("body", b""))
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            if self._extra:
                message["headers"] = _with_headers(message.get("headers", []), self._extra)
        elif kind == "http.response.body":
            self.response_bytes += len(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send(message)
                self.ended = time.perf_counter()
                return
        await self._send(message)

    def failed(self) -> None:
        if not self.status:
            self.status = 500


def _declared_length(headers: Any) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return _policy.content_length(value)
    return None


def _with_headers(headers: Any, extra: tuple[tuple[str, str], ...]) -> list[Any]:
    present = {bytes(name).lower() for name, _ in headers}
    added = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra if k.encode("latin-1") not in present]
    return [*headers, *added]
