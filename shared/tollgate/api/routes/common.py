"""Parameters shared by list routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from aws_lambda_powertools.event_handler.openapi.params import Query

from tollgate.domain.errors import FieldError, ValidationFailed
from tollgate.domain.ids import ID_PATTERN

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100.")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` from the previous page.")]
TenantQ = Annotated[str | None, Query(pattern=ID_PATTERN, description="Implied by a tenant key.")]
Flag = Literal["true", "false"]
"""A boolean query parameter: exactly ``true`` or ``false`` (anything else is a 422 naming it)."""


def flag(value: Flag | None) -> bool | None:
    return None if value is None else value == "true"


T = TypeVar("T")


def paged(fetch: Callable[[int, str | None], tuple[list[T], str | None]], limit: int, cursor: str | None):
    try:
        return fetch(limit, cursor)
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("cursor", str(exc))]) from None
