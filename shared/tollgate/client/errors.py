"""The client's exceptions. A 4xx answer is a :class:`ProblemError` carrying the RFC 9457
problem document; a request that got no usable answer after its retries is
:class:`TollgateUnavailable`. Neither ever holds the API key."""

from __future__ import annotations

import json
from typing import Any, TypeVar

R = TypeVar("R")


class TollgateError(Exception):
    """Base of every error the client raises."""


class ProblemError(TollgateError):
    """The API refused the request (a 4xx problem+json document): fix it, do not retry it.

    ``errors`` is the list of ``{"field": ..., "message": ...}`` naming what to fix."""

    def __init__(
        self,
        status: int,
        type: str = "about:blank",
        title: str = "",
        detail: str = "",
        errors: list[dict[str, str]] | None = None,
        instance: str | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors = list(errors or [])
        self.instance = instance
        fields = ", ".join(e.get("field", "?") for e in self.errors)
        super().__init__(f"{status} {title or 'error'}: {detail}" + (f" [{fields}]" if fields else ""))

    @classmethod
    def from_body(cls, status: int, content: bytes) -> ProblemError:
        """From an answer's body: a problem document, or anything else (kept as ``detail``)."""
        try:
            doc: Any = json.loads(content) if content else {}
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return cls(status, detail=content[:500].decode("utf-8", "replace"))
        errors = [
            {"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
            for e in doc.get("errors") or []
            if isinstance(e, dict)
        ]
        return cls(
            status,
            type=str(doc.get("type", "about:blank")),
            title=str(doc.get("title", "")),
            detail=str(doc.get("detail", "")),
            errors=errors,
            instance=doc.get("instance"),
        )


class TollgateUnavailable(TollgateError):
    """No answer after the retries: connection errors, timeouts, 429 problems, 502, 503, 504.

    ``status`` is the last answer's status (None after a connection error or timeout)."""

    def __init__(self, message: str, *, attempts: int, status: int | None = None) -> None:
        self.attempts = attempts
        self.status = status
        super().__init__(f"{message} (after {attempts} attempt{'s' if attempts != 1 else ''})")


class EventsRejected(ProblemError):
    """``send_events(..., raise_on_rejected=True)``: some events were rejected. ``result`` is
    the whole 202 answer (the others were accepted); ``errors`` lists every rejected field."""

    def __init__(self, result: Any) -> None:
        errors = [e.model_dump() for r in result.rejected for e in r.errors]
        detail = f"{len(result.rejected)} event(s) rejected, {result.accepted} accepted"
        super().__init__(202, "/problems/events-rejected", "Some events were rejected", detail, errors)
        self.result = result

    @classmethod
    def check(cls, result: R, raise_on_rejected: bool) -> R:
        if raise_on_rejected and getattr(result, "rejected", None):
            raise cls(result)
        return result
