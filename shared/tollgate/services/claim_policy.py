"""Which event claims the consumer reads before writing them (``ClaimReadFirst``).

A duplicate's conditional claim fails, and a failed write is billed: 1 write unit ($0.625 a
million on demand). Reading the marker first costs half a read unit ($0.0625 a million) for
every event read. ``always`` reads every event's marker, so a duplicate never costs a write;
``adaptive`` reads only the events of redelivered messages and of tenants whose recent share
of duplicates makes reading cheaper (docs/storage.md, "The counting protocol", step 3).
"""

from __future__ import annotations

READ_FIRST_ALWAYS, READ_FIRST_ADAPTIVE = "always", "adaptive"
READ_FIRST_POLICIES = (READ_FIRST_ALWAYS, READ_FIRST_ADAPTIVE)


class DuplicateShare:
    """Per tenant, the recent share of events that were duplicates (an exponential average
    over this environment's batches), for ``adaptive``: reading first is cheaper when more
    than ``READ_FIRST_SHARE`` of a tenant's events are duplicates (half a read unit for every
    event against one write unit for each duplicate)."""

    READ_FIRST_SHARE = 0.1
    MAX_TENANTS = 10_000

    def __init__(self) -> None:
        self._share: dict[str, float] = {}

    def likely(self, tenant: str) -> bool:
        return self._share.get(tenant, 0.0) >= self.READ_FIRST_SHARE

    def observe(self, events: dict[str, int], duplicates: dict[str, int]) -> None:
        if len(self._share) > self.MAX_TENANTS:
            self._share.clear()
        for tenant, n in events.items():
            if n:
                self._share[tenant] = (self._share.get(tenant, 0.0) + duplicates.get(tenant, 0) / n) / 2
