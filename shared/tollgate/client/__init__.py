"""The Tollgate client SDK: ``Tollgate`` (sync, thread-safe, fork-safe) and ``AsyncTollgate``.

Standard library, httpx and pydantic only (``pip install tollgate[client]``): no AWS library,
and nothing of the server's packages. See docs/client.md.
"""

from __future__ import annotations

from ._buffer import Stats
from ._flush import RejectedEvent
from .aio import AsyncTollgate
from .errors import EventsRejected, ProblemError, TollgateError, TollgateUnavailable
from .models import Decision, IngestResult, RateLimitMember, Rejected
from .sync import Tollgate

__all__ = [
    "AsyncTollgate",
    "Decision",
    "EventsRejected",
    "IngestResult",
    "ProblemError",
    "RateLimitMember",
    "Rejected",
    "RejectedEvent",
    "Stats",
    "Tollgate",
    "TollgateError",
    "TollgateUnavailable",
]
