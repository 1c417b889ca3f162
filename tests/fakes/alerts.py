"""In-memory ``AlertStore`` (services.ports), with the DynamoDB adapter's semantics;
tests/integration/test_alert_store.py holds both to one contract."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tollgate.adapters.notifications import owner_of
from tollgate.services.ports import NotificationPage


@dataclass
class _Item:
    doc: dict[str, Any]
    lease_until: float
    sent: set[str] = field(default_factory=set)
    published_at: datetime | None = None
    read_at: str | None = None


class CallFaults:
    """Fault injection shared by the fake store and notifier: the calls numbered in
    ``fail_at`` (1-based, counted across both) raise before they do anything."""

    def __init__(self, fail_at: set[int] | None = None) -> None:
        self.fail_at = fail_at or set()
        self.calls = 0
        self.failed: list[str] = []  # what each injected fault hit

    def check(self, what: str) -> None:
        self.calls += 1
        if self.calls in self.fail_at:
            self.failed.append(what)
            raise ConnectionError(f"injected: {what} unreachable at call {self.calls}")


class FakeAlertStore:
    def __init__(self, faults: CallFaults | None = None) -> None:
        self.items: dict[str, _Item] = {}
        self.faults = faults or CallFaults()
        self._lock = threading.Lock()

    def _call(self, what: str) -> None:
        self.faults.check(what)

    def acquire(self, doc: dict[str, Any], now: datetime, lease_s: int) -> set[str] | None:
        with self._lock:
            self._call("acquire")
            item = self.items.get(doc["id"])
            if item is None:
                self.items[doc["id"]] = _Item(dict(doc), now.timestamp() + lease_s)
                return set()
            if item.published_at is not None or item.lease_until >= int(now.timestamp()):
                return None
            item.lease_until = now.timestamp() + lease_s
            return set(item.sent)

    def mark_sent(self, alert_id: str, destination: str) -> None:
        with self._lock:
            self._call("mark_sent")
            self.items[alert_id].sent.add(destination)

    def release(self, alert_id: str) -> None:
        with self._lock:
            self._call("release")
            item = self.items.get(alert_id)
            if item is not None and item.published_at is None:
                item.lease_until = 0

    def mark_published(self, alert_id: str, now: datetime) -> None:
        with self._lock:
            self._call("mark_published")
            self.items[alert_id].published_at = now

    def known(self, alert_ids: Sequence[str]) -> set[str]:
        with self._lock:
            self._call("known")
            return {a for a in alert_ids if a in self.items}

    def unpublished(self, since: datetime, now: datetime) -> list[dict[str, Any]]:
        with self._lock:
            self._call("unpublished")
            return [
                dict(i.doc)
                for i in self.items.values()
                if i.published_at is None
                and i.lease_until < int(now.timestamp())
                and datetime.fromisoformat(i.doc["occurred_at"]) >= since
            ]

    # -------------------------------------------------------------- notifications
    def _sorted(self, tenant: str | None) -> list[_Item]:
        items = [i for i in self.items.values() if tenant is None or owner_of(i.doc) == tenant]
        return sorted(
            items,
            key=lambda i: (datetime.fromisoformat(i.doc["occurred_at"]).astimezone(UTC), i.doc["id"]),
            reverse=True,
        )

    def list(
        self, tenant: str | None, *, unread: bool | None, type_: str | None, limit: int, cursor: str | None
    ) -> NotificationPage:
        with self._lock:
            items = [
                i
                for i in self._sorted(tenant)
                if (unread is None or (i.read_at is None) == unread) and (type_ is None or i.doc["type"] == type_)
            ]
            start = 0
            if cursor is not None:
                ids = [i.doc["id"] for i in items]
                if not cursor.startswith("fake:") or cursor[5:] not in ids:
                    raise ValueError("not a cursor of this list")
                start = ids.index(cursor[5:]) + 1
            page = items[start : start + limit]
            more = start + limit < len(items)
            return NotificationPage(
                [{**i.doc, "read_at": i.read_at} for i in page], f"fake:{page[-1].doc['id']}" if more else None
            )

    def unread_count(self, tenant: str | None) -> int:
        with self._lock:
            return sum(1 for i in self._sorted(tenant) if i.read_at is None)

    def mark_read(self, alert_id: str, tenant: str | None, now: datetime) -> dict[str, Any] | None:
        with self._lock:
            item = self.items.get(alert_id)
            if item is None or (tenant is not None and owner_of(item.doc) != tenant):
                return None
            if item.read_at is None:
                item.read_at = now.astimezone(UTC).isoformat()
            return {**item.doc, "read_at": item.read_at}
