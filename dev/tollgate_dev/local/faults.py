"""Fault injection for the local stack: make the gateway or the embedded moto's SQS fail on purpose.

A test (or a developer, with ``tollgate local fault``) adds faults through the admin-only control
endpoint ``/_local/faults``; the gateway and the moto server ask the registry, request by request,
whether a fault applies. Two targets:

- ``gateway``: requests whose path is ``path`` (or starts with it, when it ends in ``*``), and
  whose method is ``method`` when one is given, are answered ``status``. Phase ``before``: without
  invoking the function. Phase ``after``: the function runs (its effects are real) and its
  answer is thrown away, as when a response is lost on the way back.
- ``sqs``: moto answers the SQS ``action`` (JSON protocol, ``X-Amz-Target: AmazonSQS.<action>``)
  with a 503 ``ServiceUnavailable``, optionally only for queues whose URL contains ``queue``.

A fault lasts for ``count`` matching requests, or ``seconds`` from when it was added (both: which
ever ends first). Expired faults stay listed, with their ``hits``, until the faults are cleared,
so a test can check that each fault it set up was actually met.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TARGETS = ("gateway", "sqs")
PHASES = ("before", "after")
MAX_SECONDS = 3600.0
MAX_FAULTS = 100  # listed ones, spent ones included, until cleared


class FaultSpecError(ValueError):
    """A fault the registry cannot take; ``field`` names the offending member."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class Fault:
    id: int
    target: str
    added_at: float  # the registry clock's reading
    status: int = 503
    path: str | None = None
    method: str | None = None
    phase: str = "before"
    action: str | None = None
    queue: str | None = None
    count: int | None = None
    seconds: float | None = None
    hits: int = 0

    def active(self, now: float) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        return self.seconds is None or now < self.added_at + self.seconds

    def matches_request(self, method: str, path: str) -> bool:
        if self.target != "gateway" or self.path is None:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        return path.startswith(self.path[:-1]) if self.path.endswith("*") else path == self.path

    def describe(self, now: float) -> dict[str, Any]:
        document: dict[str, Any] = {"id": self.id, "target": self.target}
        if self.target == "gateway":
            document.update(path=self.path, method=self.method, status=self.status, phase=self.phase)
        else:
            document.update(action=self.action, queue=self.queue)
        document.update(count=self.count, seconds=self.seconds, hits=self.hits, active=self.active(now))
        remaining: dict[str, Any] = {}
        if self.count is not None:
            remaining["count"] = max(0, self.count - self.hits)
        if self.seconds is not None:
            remaining["seconds"] = round(max(0.0, self.added_at + self.seconds - now), 3)
        document["remaining"] = remaining
        return document


class FaultRegistry:
    """Thread-safe: the gateway's request threads and moto's take hits concurrently; each hit is
    counted once, and a ``count`` fault fails exactly ``count`` requests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: Mapping[str, Any]) -> Fault:
        fault = _parse(spec, next(self._ids), self._clock())
        with self._lock:
            if len(self._faults) >= MAX_FAULTS:
                raise FaultSpecError("body", f"{MAX_FAULTS} faults are listed already; clear them (DELETE) first")
            self._faults.append(fault)
        return fault

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._faults)
            self._faults.clear()
        return cleared

    def describe(self) -> list[dict[str, Any]]:
        now = self._clock()
        with self._lock:
            return [fault.describe(now) for fault in self._faults]

    def gateway_hit(self, method: str, path: str, phase: str) -> Fault | None:
        """The first active gateway fault of ``phase`` for this request, with its hit counted."""
        return self._hit(lambda f: f.phase == phase and f.matches_request(method, path))

    def sqs_hit(self, action: str, queue_url: str | None) -> Fault | None:
        """The first active SQS fault for this action (and queue), with its hit counted."""

        def matches(fault: Fault) -> bool:
            if fault.target != "sqs" or fault.action != action:
                return False
            return fault.queue is None or (queue_url is not None and fault.queue in queue_url)

        return self._hit(matches)

    def has_sqs_faults(self) -> bool:
        """Cheap pre-check for the moto server (no body parsing while no SQS fault exists)."""
        now = self._clock()
        with self._lock:
            return any(f.target == "sqs" and f.active(now) for f in self._faults)

    def _hit(self, matches: Callable[[Fault], bool]) -> Fault | None:
        now = self._clock()
        with self._lock:
            for fault in self._faults:
                if fault.active(now) and matches(fault):
                    fault.hits += 1
                    return fault
        return None

    def control(self, method: str, body: bytes) -> tuple[int, Any]:
        """``/_local/faults``: POST adds one (the JSON body), GET lists them, DELETE clears them."""
        if method == "GET":
            return 200, {"faults": self.describe()}
        if method == "DELETE":
            return 200, {"cleared": self.clear()}
        if method != "POST":
            return 405, {"message": "use GET, POST or DELETE"}
        try:
            spec = _json_object(body)
            fault = self.add(spec)
        except FaultSpecError as error:
            return 422, {"message": str(error), "errors": [{"field": error.field, "message": error.message}]}
        return 201, fault.describe(self._clock())


# ------------------------------------------------------------------ answers
_FAULT_PROBLEMS = {
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    502: ("bad-gateway", "Bad gateway"),
    503: ("service-unavailable", "Temporarily unavailable"),
    504: ("gateway-timeout", "Gateway timeout"),
}


def gateway_answer(fault: Fault) -> tuple[int, list[tuple[str, str]], bytes]:
    """The gateway's answer for a fault: a problem document in the API's shape; 429 and 503 say
    ``Retry-After: 1``."""
    slug, title = _FAULT_PROBLEMS.get(fault.status, ("error", "Error"))
    detail = f"injected fault #{fault.id} (phase {fault.phase}) of the local stack"
    document = {"type": f"/problems/{slug}", "title": title, "status": fault.status, "detail": detail, "errors": []}
    headers = [("content-type", "application/problem+json"), ("x-tollgate-fault", str(fault.id))]
    if fault.status in (429, 503):
        headers.append(("retry-after", "1"))
    return fault.status, headers, json.dumps(document).encode()


SQS_UNAVAILABLE_BODY = json.dumps(
    {"__type": "com.amazonaws.sqs#ServiceUnavailable", "message": "injected fault of the local stack"}
).encode()
SQS_UNAVAILABLE_HEADERS = [
    ("Content-Type", "application/x-amz-json-1.0"),
    ("x-amzn-query-error", "ServiceUnavailable;Receiver"),
    ("Content-Length", str(len(SQS_UNAVAILABLE_BODY))),
]


# ------------------------------------------------------------------ parsing
def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        spec = json.loads(body or b"null")
    except ValueError:
        raise FaultSpecError("body", "is not JSON") from None
    if not isinstance(spec, dict):
        raise FaultSpecError("body", "must be a JSON object")
    return spec


_GATEWAY_KEYS = {"target", "path", "method", "status", "phase", "count", "seconds"}
_SQS_KEYS = {"target", "action", "queue", "count", "seconds"}


def _parse(spec: Mapping[str, Any], fault_id: int, now: float) -> Fault:
    target = spec.get("target")
    if target not in TARGETS:
        raise FaultSpecError("target", f"must be one of {', '.join(TARGETS)}")
    unknown = set(spec) - (_GATEWAY_KEYS if target == "gateway" else _SQS_KEYS)
    if unknown:
        raise FaultSpecError(sorted(unknown)[0], f"is not a member of a {target} fault")
    fault = Fault(id=fault_id, target=target, added_at=now)
    fault.count, fault.seconds = _bounds(spec)
    if target == "gateway":
        _parse_gateway(spec, fault)
    else:
        fault.action = _text(spec, "action", required=True)
        fault.queue = _text(spec, "queue")
    return fault


def _parse_gateway(spec: Mapping[str, Any], fault: Fault) -> None:
    path = _text(spec, "path", required=True)
    if path is None or not path.startswith("/"):
        raise FaultSpecError("path", "must start with /")
    fault.path = path
    method = _text(spec, "method")
    fault.method = method.upper() if method else None
    status = spec.get("status", 503)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise FaultSpecError("status", "must be an HTTP error status, 400 to 599")
    fault.status = status
    phase = spec.get("phase", "before")
    if phase not in PHASES:
        raise FaultSpecError("phase", f"must be one of {', '.join(PHASES)}")
    fault.phase = phase


def _text(spec: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = spec.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise FaultSpecError(name, "must be a non-empty string")
    return value


def _bounds(spec: Mapping[str, Any]) -> tuple[int | None, float | None]:
    count, seconds = spec.get("count"), spec.get("seconds")
    if count is None and seconds is None:
        raise FaultSpecError("count", "give count (requests) or seconds (from now), or both")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise FaultSpecError("count", "must be a whole number, at least 1")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_SECONDS
    ):
        raise FaultSpecError("seconds", f"must be a number of seconds, above 0 and at most {MAX_SECONDS:g}")
    return count, None if seconds is None else float(seconds)
