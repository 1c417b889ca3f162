"""One API request as data (:class:`Call`), and what an attempt's outcome means: the answer,
a retry after some delay, or an error. Pure: the sync and async clients each run the same
steps with their own I/O, so the two behave alike by construction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

from ._encode import JSON
from ._retry import TRANSIENT_STATUSES, RetryPolicy, Uniform, parse_retry_after
from .errors import ProblemError, TollgateUnavailable

T = TypeVar("T")
logger = logging.getLogger("tollgate.client")
PROBLEM_JSON = "application/problem+json"
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before the request left: safe to retry any request."""


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = JSON
    idempotent: bool = True
    """Safe to send again after it may have been processed (reads, events and consume by id,
    PUT). Other writes retry only when the request surely was not processed."""
    answers: frozenset[int] = frozenset()
    """Statuses besides 2xx whose non-problem body is the answer (consume's 429 decision)."""
    max_retries: int | None = None
    """None: the client's; negative: forever (the flusher)."""

    def request_args(self) -> dict[str, Any]:
        """The keywords of ``httpx.Client.request`` (and of the async client's)."""
        headers = {"Content-Type": self.content_type} if self.body is not None else None
        return {
            "method": self.method,
            "url": self.path,
            "params": self.params or None,
            "content": self.body,
            "headers": headers,
        }


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True)
class Retry:
    delay: float
    status: int | None


Outcome = httpx.Response | httpx.TransportError


def is_problem(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip() == PROBLEM_JSON


def _is_answer(call: Call[T], response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300 or (response.status_code in call.answers and not is_problem(response))


def _retryable(call: Call[T], outcome: Outcome) -> bool:
    if isinstance(outcome, httpx.TransportError):
        return call.idempotent or isinstance(outcome, NOT_SENT)
    if outcome.status_code not in TRANSIENT_STATUSES:
        return False
    # A 429 problem is the edge's rate limit: the route did not run.
    return call.idempotent or outcome.status_code == 429


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, httpx.TransportError):
        return f"{type(outcome).__name__}: {outcome}"
    return f"HTTP {outcome.status_code}"


def step(
    call: Call[T],
    outcome: Outcome,
    attempt: int,
    policy: RetryPolicy,
    rng: Uniform,
    now: datetime | None = None,
) -> Done[T] | Retry:
    """What attempt number ``attempt`` (0: the first) of ``call`` led to. Raises
    :class:`ProblemError` for a refusal and :class:`TollgateUnavailable` when retries are
    spent (or not allowed for this call)."""
    if isinstance(outcome, httpx.Response) and _is_answer(call, outcome):
        return Done(call.parse(outcome))
    status = outcome.status_code if isinstance(outcome, httpx.Response) else None
    if not _retryable(call, outcome):
        if status is not None and status not in TRANSIENT_STATUSES:
            raise ProblemError.from_body(status, outcome.content)  # type: ignore[union-attr]
        raise TollgateUnavailable(
            f"{call.method} {call.path}: {_describe(outcome)}", attempts=attempt + 1, status=status
        )
    if not policy.may_retry(attempt, call.max_retries):
        raise TollgateUnavailable(
            f"{call.method} {call.path}: {_describe(outcome)}", attempts=attempt + 1, status=status
        )
    retry_after = None
    if isinstance(outcome, httpx.Response):
        retry_after = parse_retry_after(outcome.headers.get("retry-after"), now or datetime.now(UTC))
    return Retry(policy.delay(attempt, rng, retry_after), status)


def batch_step(
    call: Call[T], outcome: Outcome, attempt: int, policy: RetryPolicy, rng: Uniform
) -> Done[T] | Retry | ProblemError:
    """The flusher's step: a refusal is returned (the flusher reports it), and an answer it
    cannot read (not JSON, not the 202 shape) is retried like a transient failure: the batch's
    ids make the resend safe, and the flusher must not die with events in its buffer. A 500
    (or another 5xx that is not transient) is resent up to ``max_retries`` times before it
    counts as a refusal: not forever, as a request that crashes the server would hold the
    buffer for good."""
    try:
        return step(call, outcome, attempt, policy, rng)
    except ProblemError as err:
        if err.status >= 500 and policy.may_retry(attempt):  # a crash may be passing: max_retries tries
            logger.error("HTTP %d to %s %s; sending the batch again", err.status, call.method, call.path)
            return Retry(policy.delay(attempt, rng), err.status)
        return err
    except ValueError as exc:  # json and pydantic errors
        logger.error("unreadable answer to %s %s (%s); sending the batch again", call.method, call.path, exc)
        return Retry(policy.delay(attempt, rng), None)


def request_headers(key: str, user_agent: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "User-Agent": user_agent, "Accept": "application/json"}
