"""In-app notifications: every alert, stored once by the alerts path (services/alerts.py), is a
notification with unread state. This service reads them and marks them read; who may see
which tenant's is the route's rule (a tenant key sees only its own)."""

from __future__ import annotations

from typing import Any

from tollgate.domain.alerts import AlertType
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed

from .ports import AlertStore, Clock, NotificationPage

NOTIFICATION_TYPES: tuple[str, ...] = tuple(t.value for t in AlertType)
"""Every alert type a notification can have (``system.*`` included), unlike
``alert_types.ALERT_TYPES``, the ones a tenant can subscribe to."""
MAX_PAGE = 100


class NotificationService:
    def __init__(self, store: AlertStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    def list(
        self, tenant: str | None, *, unread: bool | None, type_: str | None, limit: int, cursor: str | None
    ) -> NotificationPage:
        """Newest first; ``tenant`` None lists every tenant's (an admin's feed). ValueError for a
        cursor this list did not issue."""
        if type_ is not None and type_ not in NOTIFICATION_TYPES:
            raise ValidationFailed(
                f"unknown alert type {type_!r}", [FieldError("type", f"must be one of {', '.join(NOTIFICATION_TYPES)}")]
            )
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed("limit out of range", [FieldError("limit", f"must be 1 to {MAX_PAGE}")])
        return self._store.list(tenant, unread=unread, type_=type_, limit=limit, cursor=cursor)

    def unread_count(self, tenant: str | None) -> int:
        return self._store.unread_count(tenant)

    def mark_read(self, notification_id: str, tenant: str | None) -> dict[str, Any]:
        """The notification, read. Idempotent: a second call keeps the first ``read_at``.
        NotFound when there is none, or (``tenant`` given) it is another tenant's."""
        doc = self._store.mark_read(notification_id, tenant, self._clock.now())
        if doc is None:
            raise NotFound(f"notification {notification_id!r} not found")
        return doc
