"""In-memory ``HealthStore`` (services.ports), with the DynamoDB adapter's semantics
(tollgate.adapters.health; tests/integration/test_health_store.py holds both to one contract):
a put older than the stored health is dropped; ``query`` pages by tenant id."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tollgate.domain.health import TenantHealth
from tollgate.domain.quota import Status

from . import _paging


class FakeHealthStore:
    def __init__(self) -> None:
        self.items: dict[str, TenantHealth] = {}
        self.puts = 0
        self._lock = threading.Lock()

    def put(self, health: TenantHealth) -> None:
        if health.updated_at is None:
            raise ValueError("only a computed health is stored")
        with self._lock:
            self.puts += 1
            stored = self.items.get(health.tenant_id)
            if stored is None or stored.updated_at is None or stored.updated_at <= health.updated_at:
                self.items[health.tenant_id] = health

    def get_many(self, tenant_ids: Sequence[str]) -> dict[str, TenantHealth]:
        with self._lock:
            return {t: self.items[t] for t in tenant_ids if t in self.items}

    def query(self, status: Status, limit: int, cursor: str | None) -> tuple[list[TenantHealth], str | None]:
        with self._lock:
            at_status = [h for h in self.items.values() if h.status is status]
            return _paging.page(at_status, lambda h: h.tenant_id, limit, cursor, f"health:{status.value}")
