"""Quarantined events: what the consumer could not count, for admins to see and fix."""

from __future__ import annotations

from typing import Any

from tollgate.adapters.quarantine import QuarantineStore

from . import tenants


def list_rejected(tenant_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """A tenant's quarantined events, newest first. ValueError for a bad cursor; 404 for an
    unknown tenant."""
    tenants.get_tenant(tenant_id)
    return QuarantineStore().list(tenant_id, limit, cursor)
