"""Quarantined events: what the consumer could not count, for admins to see and fix."""

from __future__ import annotations

from typing import Any

from .ports import QuarantineLog
from .tenants import TenantService


class QuarantineService:
    def __init__(self, log: QuarantineLog, tenants: TenantService) -> None:
        self._log, self._tenants = log, tenants

    def list_rejected(self, tenant_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A tenant's quarantined events, newest first. ValueError for a bad cursor; 404 for an
        unknown tenant."""
        self._tenants.get_tenant(tenant_id)
        return self._log.list(tenant_id, limit, cursor)
