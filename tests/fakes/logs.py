"""The quarantine log and the raw-event log, in memory, with the list contracts of
tollgate.adapters.quarantine.QuarantineStore and tollgate.adapters.event_reader.EventReader."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tollgate.adapters import event_log
from tollgate.domain import stored_events
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent
from tollgate.services.ports import Quarantine
from tollgate.wire.usage_message import event_dict

from . import _paging


class FakeQuarantineLog:
    """``ports.QuarantineLog``. An event is stored once per tenant and ``(time, id)`` (a
    redelivery is a success that changes nothing); each new one counts on ``now``'s UTC day.
    ``fail_ids``: event ids whose ``put`` returns an error instead (nothing stored)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = {}  # tenant -> sk -> entry
        self.per_day: Counter[str] = Counter()
        self.fail_ids: set[str] = set()

    @staticmethod
    def _sk(event: UsageEvent) -> str:
        digest = hashlib.blake2b(event.id.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        return f"{event.time}#{digest}"

    def put(self, entries: Sequence[Quarantine], now: datetime) -> list[Exception | None]:
        out: list[Exception | None] = []
        for q in entries:
            if q.event.id in self.fail_ids:
                out.append(RuntimeError(f"quarantine of {q.event.id!r} failed"))
                continue
            items = self.items.setdefault(q.tenant, {})
            sk = self._sk(q.event)
            if sk not in items:
                message = event_dict(q.event)
                items[sk] = {
                    "id": q.event.id,
                    "type": q.event.meter,
                    "time": q.event.time,
                    "reason": q.reason,
                    "quarantined_at": format_time(now),
                    "event": message,
                    "msg": q.message_id,
                }
                self.per_day[now.date().isoformat()] += 1
            out.append(None)
        return out

    def count_on(self, utc_day: str) -> int:
        return self.per_day[utc_day]

    def list(self, tenant: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Newest event time first; ValueError for a cursor of another tenant or none of ours."""
        rows = list(self.items.get(tenant, {}).items())
        page, nxt = _paging.page(rows, lambda r: r[0], limit, cursor, f"quarantine:{tenant}", newest_first=True)
        return [{k: v for k, v in entry.items() if k != "msg"} for _, entry in page], nxt


class FakeRawEventLog:
    """``ports.RawEventLog``: the events the consumer logged, per tenant, as
    ``usage_message.event_dict`` dicts; listed like ``EventReader.list_events`` (newest first by
    ``(time, id)``, ``start <= time < end``, ``counting`` cursors, rendered CloudEvents)."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}

    def add(self, tenant: str, *events: UsageEvent) -> None:
        self.events.setdefault(tenant, []).extend(event_dict(e) for e in events)

    def list_events(
        self, tenant: str, start: datetime, end: datetime, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        limit = max(1, int(limit))
        lower, upper = format_time(start), format_time(end)
        after = event_log.decode_cursor(cursor, tenant) if cursor else None
        found = [
            e
            for e in self.events.get(tenant, [])
            if lower <= e["time"] < upper and (after is None or (e["time"], e["id"]) < after)
        ]
        found.sort(key=lambda e: (e["time"], e["id"]), reverse=True)
        page = found[:limit]
        nxt = event_log.encode_cursor(page[-1]["time"], tenant, page[-1]["id"]) if len(found) > limit else None
        return [stored_events.render(e, tenant) for e in page], nxt
