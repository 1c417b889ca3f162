"""Domain errors. The HTTP edge maps each to an RFC 9457 problem (tollgate.api.problems)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class TollgateError(Exception):
    """Base class. ``status`` and ``slug`` drive the problem document."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str = "", errors: list[FieldError] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []


class Unauthenticated(TollgateError):
    status, slug, title = 401, "unauthenticated", "Missing, unknown or revoked API key"


class Forbidden(TollgateError):
    status, slug, title = 403, "forbidden", "The API key's scope does not allow this"


class NotFound(TollgateError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(TollgateError):
    status, slug, title = 409, "conflict", "Already exists"


class ValidationFailed(TollgateError):
    status, slug, title = 422, "validation-error", "The request is not valid"


@dataclass
class Problem:
    """A plain description of a problem, for code that builds one without raising."""

    status: int
    title: str
    detail: str
    slug: str
    errors: list[FieldError] = field(default_factory=list)
