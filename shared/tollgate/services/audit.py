"""``GET /v1/audit``: the audit trail of one tenant or one plan, newest first."""

from __future__ import annotations

from tollgate.adapters.entitlements import AuditRepo
from tollgate.domain.audit import AuditEntry

repo = AuditRepo()


def list_entries(subject: str, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
    """Raises ValueError for a cursor this API did not issue for this subject."""
    return repo.list(subject, limit, cursor)
