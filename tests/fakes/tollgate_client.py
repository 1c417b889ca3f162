"""A fake of the client SDK's surface the middleware uses (``track``, ``consume``, ``flush``,
``close``), sync and async: records every call, answers scripted decisions or raises scripted
errors. The middleware's unit tests inject it with ``client=``."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeDecision:
    allowed: bool
    reason: str | None = None
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    limits: list[Any] = field(default_factory=list)
    replayed: bool = False


def allow(**headers: str) -> FakeDecision:
    return FakeDecision(True, headers=dict(headers))


def deny(reason: str = "quota_exceeded", retry_after: int = 30, **headers: str) -> FakeDecision:
    return FakeDecision(False, reason, retry_after, {"Retry-After": str(retry_after), **headers})


@dataclass
class Tracked:
    type: str
    id: str | None
    subject: str | None
    data: dict[str, Any] | None


@dataclass
class Consumed:
    meter: str
    amount: int
    id: str | None
    tenant: str | None
    max_retries: int | None


class FakeClient:
    """``answers``: what successive ``consume`` calls return (a decision) or raise (an
    exception); when it runs out, every consume is allowed."""

    def __init__(self, *answers: FakeDecision | BaseException, track_error: BaseException | None = None) -> None:
        self.answers: deque[FakeDecision | BaseException] = deque(answers)
        self.tracked: list[Tracked] = []
        self.consumed: list[Consumed] = []
        self.flushes = 0
        self.closed = False
        self.track_error = track_error

    def track(
        self, type: str, *, id: str | None = None, subject: str | None = None, time: Any = None, data: Any = None
    ) -> str:
        if self.track_error is not None:
            raise self.track_error
        self.tracked.append(Tracked(type, id, subject, data))
        return id or "generated"

    def consume(
        self,
        meter: str,
        amount: int = 1,
        *,
        id: str | None = None,
        tenant: str | None = None,
        max_retries: int | None = None,
    ) -> FakeDecision:
        self.consumed.append(Consumed(meter, amount, id, tenant, max_retries))
        answer = self.answers.popleft() if self.answers else FakeDecision(True)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def flush(self, timeout: float | None = None) -> bool:
        self.flushes += 1
        return True

    def close(self, timeout: float | None = None) -> None:
        self.flushes += 1
        self.closed = True


class FakeAsyncClient(FakeClient):
    """The same, as coroutines (``AsyncTollgate``'s surface)."""

    async def track(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        return FakeClient.track(self, *args, **kwargs)

    async def consume(self, *args: Any, **kwargs: Any) -> FakeDecision:  # type: ignore[override]
        return FakeClient.consume(self, *args, **kwargs)

    async def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        return FakeClient.flush(self, timeout)

    async def aclose(self, timeout: float | None = None) -> None:
        FakeClient.close(self, timeout)
