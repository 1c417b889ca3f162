"""Listing the raw usage events a tenant sent, newest first (the audit view of ingest)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tollgate.adapters import event_log
from tollgate.domain.errors import FieldError, ValidationFailed

from .ports import RawEventLog
from .tenants import TenantService

MAX_SPAN = timedelta(days=400)


class EventsLogService:
    def __init__(self, log: RawEventLog, tenants: TenantService) -> None:
        self._log, self._tenants = log, tenants

    def list_events(
        self, tenant_id: str, start: datetime, end: datetime, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        if end <= start:
            raise ValidationFailed("the range is not valid", [FieldError("to", "must be after from")])
        if end - start > MAX_SPAN:
            raise ValidationFailed("the range is too long", [FieldError("from", "the range spans at most 400 days")])
        self._tenants.get_tenant(tenant_id)  # 404 for an unknown tenant
        if cursor:
            _check_cursor(cursor, tenant_id)
        return self._log.list_events(tenant_id, start, end, limit, cursor)


def _check_cursor(cursor: str, tenant_id: str) -> None:
    """422 naming ``cursor`` for anything ``event_log.decode_cursor`` refuses - a crafted cursor
    nested deep enough to exhaust the JSON decoder's recursion included."""
    try:
        event_log.decode_cursor(cursor, tenant_id)
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("cursor", str(exc))]) from None
    except RecursionError:
        raise ValidationFailed("the cursor is not valid", [FieldError("cursor", "the cursor is not valid")]) from None
