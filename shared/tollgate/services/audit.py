"""``GET /v1/audit``: the audit trail of one tenant or one plan, newest first."""

from __future__ import annotations

from tollgate.domain.audit import AuditEntry

from .ports import AuditLog


class AuditService:
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def list_entries(self, subject: str, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
        """Raises ValueError for a cursor this API did not issue for this subject."""
        return self._log.list(subject, limit, cursor)
