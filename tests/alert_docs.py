"""Alert documents for notification tests, built by the one builder the alerts path uses
(``domain.alerts.alert_document``), so a test's notification is what production stores."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tollgate.domain.alerts import AlertType, Trigger, alert_document
from tollgate.domain.periods import Window, utc_key, window_start
from tollgate.domain.plans import Enforcement, Limit


def alert_doc(
    tenant: str,
    occurred_at: datetime,
    *,
    threshold: str | None = "0.8",
    used: int | str = 80,
    limit: int = 100,
    meter: str = "api_calls",
    window: Window = Window.MONTH,
    tz: str = "UTC",
) -> dict[str, Any]:
    """A ``usage.threshold_reached`` alert at ``threshold``, or (``threshold=None``) a
    ``billing.over_limit`` one, in the window holding ``occurred_at``."""
    zone = ZoneInfo(tz)
    lim = Limit(meter=meter, window=window, limit=Decimal(limit), enforcement=Enforcement.SOFT)
    trigger = (
        Trigger(AlertType.OVER_LIMIT, None)
        if threshold is None
        else Trigger(AlertType.THRESHOLD_REACHED, Decimal(threshold))
    )
    return alert_document(
        tenant=tenant,
        limit=lim,
        window_key=utc_key(window_start(occurred_at, window, zone)),
        trigger=trigger,
        used=Decimal(used),
        tz=zone,
        occurred_at=occurred_at,
    )
