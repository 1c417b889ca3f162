"""A fake Tollgate API for the client's tests: an httpx.MockTransport that records every
request and answers from a script (a list of answers, then a default)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def accept_all(request: httpx.Request) -> httpx.Response:
    events = json.loads(request.content)
    return httpx.Response(202, json={"accepted": len(events), "duplicates": 0, "rejected": []})


class FakeApi:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: list[Answer] = []
        self.default: Answer = accept_all
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self.lock:
            self.requests.append(request)
            answer = self.script.pop(0) if self.script else self.default
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def bodies(self, path: str = "/v1/events") -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]

    def event_ids(self) -> list[list[str]]:
        return [[e["id"] for e in body] for body in self.bodies()]


class MaxRandom:
    """``uniform(a, b)`` is ``b``: the backoff's upper bound, so a schedule is exact."""

    def __init__(self) -> None:
        self.bounds: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.bounds.append((a, b))
        return b


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def problem(status: int, slug: str = "validation-failed", errors: list[dict[str, str]] | None = None) -> httpx.Response:
    body = {"type": f"/problems/{slug}", "title": slug.replace("-", " "), "status": status, "detail": "no"}
    body["errors"] = errors or []
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})
