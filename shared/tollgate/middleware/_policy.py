"""What both middlewares decide the same way: the settings, the enforcement gate (consume, then
allow, deny or apply the failure policy), the replies they answer themselves, the usage event's
data, and logging that cannot flood the application's log.

Standard library and the SDK's client only: its exception classes, and its UUIDv7 ids (a
request's event id is fixed before the consume, so a retried consume and the event share it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tollgate.client import ProblemError, TollgateUnavailable

log = logging.getLogger("tollgate.middleware")

Failure = Literal["open", "closed"]
RATELIMIT_HEADERS = ("ratelimit-policy", "ratelimit")  # passed through on an allowed request
CLOSED_RETRY_AFTER = "5"  # seconds, on the 503 a closed failure answers


@dataclass(frozen=True, slots=True)
class Settings:
    tenant: Callable[[Any], str | None]
    meter: str
    enforce: str | None  # the meter consumed before the handler, or None
    failure: Failure
    route: Callable[[Any], str | None] | None

    @classmethod
    def build(
        cls,
        *,
        tenant: Callable[[Any], str | None],
        meter: str,
        enforce: bool | str | None,
        failure: str,
        route: Callable[[Any], str | None] | None,
    ) -> Settings:
        if not callable(tenant):
            raise TypeError("tenant must be a callable given the ASGI scope or the WSGI environ")
        if failure not in ("open", "closed"):
            raise ValueError(f"failure must be 'open' or 'closed', not {failure!r}")
        if enforce is True:
            enforced: str | None = meter
        elif enforce is None or enforce is False:
            enforced = None
        elif isinstance(enforce, str) and enforce:
            enforced = enforce
        else:
            raise TypeError(f"enforce must be None, True or a meter name, not {enforce!r}")
        return cls(tenant, meter, enforced, failure, route)  # type: ignore[arg-type]

    @property
    def same_meter(self) -> bool:
        """The enforced meter is the tracked one: the consume already counted the request."""
        return self.enforce == self.meter


@dataclass(frozen=True, slots=True)
class Reply:
    """A response the middleware answers itself, without calling the application."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        return {429: "429 Too Many Requests", 503: "503 Service Unavailable"}[self.status]


@dataclass(frozen=True, slots=True)
class Gate:
    """The enforcement's outcome: ``reply`` set -> answer it (the app is not called, nothing is
    tracked); else call the app, add ``headers`` it did not set, and track when ``track``."""

    reply: Reply | None = None
    headers: tuple[tuple[str, str], ...] = ()
    track: bool = True


OPEN = Gate()


def own_client(client: Any, base_url: str | None, key: str | None, make: Callable[[str, str], Any]) -> tuple[Any, bool]:
    """The client a middleware uses, and whether it built it (then it closes it at shutdown;
    a client passed in is only flushed)."""
    if client is not None:
        return client, False
    if not (base_url and key):
        raise TypeError("pass base_url and key, or client=")
    return make(base_url, key), True


def problem(status: int, type_: str, title: str, detail: str, headers: dict[str, str]) -> Reply:
    body = json.dumps({"type": type_, "title": title, "status": status, "detail": detail}).encode()
    pairs = [(k.lower(), v) for k, v in headers.items() if k.lower() != "content-type"]
    pairs += [("content-type", "application/problem+json"), ("content-length", str(len(body)))]
    return Reply(status, pairs, body)


def from_decision(decision: Any, settings: Settings) -> Gate:
    headers: dict[str, str] = dict(getattr(decision, "headers", None) or {})
    if decision.allowed:
        passed = tuple((k.lower(), v) for k, v in headers.items() if k.lower() in RATELIMIT_HEADERS)
        return Gate(headers=passed, track=not settings.same_meter)
    reason = decision.reason or "quota_exceeded"
    if "retry-after" not in {k.lower() for k in headers} and decision.retry_after is not None:
        headers["Retry-After"] = str(decision.retry_after)
    slug = "rate-limited" if reason == "rate_limited" else "quota-exceeded"
    detail = f"{reason}: the {settings.enforce!r} limit for this tenant is reached"
    return Gate(reply=problem(429, f"/problems/{slug}", "Too Many Requests", detail, headers), track=False)


def from_error(exc: BaseException, settings: Settings) -> Gate:
    """Tollgate gave no decision. ``open``: serve and track (the caller keeps the consume's id
    for the event, so a consume that did count is deduplicated); ``closed``: answer 503."""
    if isinstance(exc, TollgateUnavailable | TimeoutError):
        limited.warning("unavailable", "Tollgate unreachable for enforcement (failure=%s): %s", settings.failure, exc)
    else:
        kind = "problem" if isinstance(exc, ProblemError) else "error"
        limited.error(
            kind, "enforcement failed, check the middleware's key and tenant (failure=%s): %r", settings.failure, exc
        )
    if settings.failure == "open":
        return OPEN
    detail = "usage enforcement is unavailable; retry later"
    reply = problem(
        503, "/problems/service-unavailable", "Service Unavailable", detail, {"Retry-After": CLOSED_RETRY_AFTER}
    )
    return Gate(reply=reply, track=False)


def usage_data(
    route: str, method: str, status: int, duration_s: float, request_bytes: int, response_bytes: int
) -> dict[str, Any]:
    return {
        "value": 1,
        "route": route,
        "method": method,
        "status": status,
        "duration_ms": round(duration_s * 1000, 1),
        "request_bytes": request_bytes,
        "response_bytes": response_bytes,
    }


def content_length(value: str | bytes | None) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        return None
    return n if n >= 0 else None


@dataclass
class LimitedLog:
    """At most one record per kind every ``every_s`` seconds; the next one says how many were
    suppressed. An outage must not write a log line per request."""

    every_s: float = 60.0
    _last: dict[str, float] = field(default_factory=dict)
    _suppressed: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _due(self, kind: str) -> int | None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.every_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._suppressed.pop(kind, 0)

    def _emit(self, level: int, kind: str, msg: str, args: tuple[Any, ...]) -> None:
        suppressed = self._due(kind)
        if suppressed is None:
            return
        if suppressed:
            msg += " (%d similar suppressed)"
            args = (*args, suppressed)
        log.log(level, msg, *args)

    def warning(self, kind: str, msg: str, *args: Any) -> None:
        self._emit(logging.WARNING, kind, msg, args)

    def error(self, kind: str, msg: str, *args: Any) -> None:
        self._emit(logging.ERROR, kind, msg, args)


limited = LimitedLog()
