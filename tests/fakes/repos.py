"""The catalog's repositories and the audit log, in memory, with the conditions of
tollgate.adapters.repos / tollgate.adapters.entitlements:

- creates are conditional on the item not existing: ``Conflict`` where the adapter maps the
  failed condition to it (tenants, meters, plans, overrides), ``ConditionFailed`` where it
  lets pynamodb's error through (API keys; ``TenantRepo.replace`` of a missing tenant);
- audited writes check the item's condition and the entry's together and write both or
  neither (one DynamoDB transaction), the entry going to the shared ``FakeAuditLog``;
- reads return copies (the real ones deserialize a new object each time), so a caller that
  mutates a record does not change what is stored; ``consistent`` reads are the same as
  eventual ones;
- lists page in key order with opaque cursors (a scan's order is unspecified: do not rely on it).

Each repository counts its ``get`` calls per id in ``reads``, for cache tests.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from tollgate.domain.audit import AuditEntry
from tollgate.domain.errors import Conflict
from tollgate.domain.plans import Limit, Plan
from tollgate.domain.records import ApiKeyRecord, Meter, Tenant

from . import _paging


class ConditionFailed(Exception):
    """A failed write condition the real adapter does not map (pynamodb's PutError/UpdateError
    with ConditionalCheckFailedException): callers see a 500, not a 409."""


def _changed(what: str) -> Conflict:
    return Conflict(f"{what} changed while this request was applied; read it again and retry")


class FakeAuditLog:
    """``ports.AuditLog``: the audit table. ``entries`` holds every entry in write order."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self._lock = threading.RLock()

    def _check(self, entry: AuditEntry, what: str) -> None:
        if any(e.subject == entry.subject and e.sk == entry.sk for e in self.entries):
            raise _changed(what)

    def _append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def of(self, subject: str) -> list[AuditEntry]:
        """The entries of ``subject`` in write order (a test helper, not the port)."""
        return [e for e in self.entries if e.subject == subject]

    def list(self, subject: str, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
        with self._lock:
            return _paging.page(self.of(subject), lambda e: e.sk, limit, cursor, f"audit:{subject}", newest_first=True)


class _Store:
    def __init__(self, audit: FakeAuditLog | None) -> None:
        self.audit = audit if audit is not None else FakeAuditLog()
        self.reads: Counter[str] = Counter()
        self._lock = self.audit._lock  # one lock: an audited write spans the item and the log


# ------------------------------------------------------------------ tenants
class FakeTenantRepository(_Store):
    """``ports.TenantRepository`` (the adapter: ``AuditedTenantRepo``)."""

    def __init__(self, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit)
        self.items: dict[str, Tenant] = {}

    def get(self, tenant_id: str, consistent: bool = False) -> Tenant | None:
        with self._lock:
            self.reads[tenant_id] += 1
            return copy.deepcopy(self.items.get(tenant_id))

    def get_many(self, tenant_ids: Sequence[str]) -> dict[str, Tenant]:
        with self._lock:
            for tenant_id in tenant_ids:
                self.reads[tenant_id] += 1
            return {i: copy.deepcopy(self.items[i]) for i in tenant_ids if i in self.items}

    def list(self, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
        with self._lock:
            items, nxt = _paging.page(list(self.items.values()), lambda t: t.id, limit, cursor, "tenants")
            return copy.deepcopy(items), nxt

    def search(self, prefix: str, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
        """Id matches in id order, then name matches (not id matches) in name order, like the
        two index queries of ``TenantRepo.search``."""
        q = prefix.casefold()
        with self._lock:
            ranked = {}
            for t in self.items.values():
                if t.id.casefold().startswith(q):
                    ranked[f"0\x00{t.id.casefold()}\x00{t.id}"] = t
                elif t.name.casefold().startswith(q):
                    ranked[f"1\x00{t.name.casefold()}\x00{t.id}"] = t
            keys, nxt = _paging.page(sorted(ranked), lambda k: k, limit, cursor, f"search:{q}")
            return copy.deepcopy([ranked[k] for k in keys]), nxt

    def create(self, tenant: Tenant) -> None:
        with self._lock:
            if tenant.id in self.items:
                raise Conflict(f"tenant {tenant.id!r} already exists")
            self.items[tenant.id] = copy.deepcopy(tenant)

    def replace(self, tenant: Tenant) -> None:
        """Unconditional but for existence, like ``TenantRepo.replace``."""
        with self._lock:
            if tenant.id not in self.items:
                raise ConditionFailed(f"tenant {tenant.id!r} does not exist")
            self.items[tenant.id] = copy.deepcopy(tenant)

    def create_audited(self, tenant: Tenant, entry: AuditEntry) -> None:
        with self._lock:
            if tenant.id in self.items:
                raise Conflict(f"tenant {tenant.id!r} already exists")
            self.audit._check(entry, f"tenant {tenant.id!r}")
            self.items[tenant.id] = copy.deepcopy(tenant)
            self.audit._append(entry)

    def replace_audited(self, tenant: Tenant, previous: Tenant, entry: AuditEntry) -> None:
        with self._lock:
            stored = self.items.get(tenant.id)
            if stored is None or stored.updated_at != previous.updated_at:
                raise _changed(f"tenant {tenant.id!r}")
            self.audit._check(entry, f"tenant {tenant.id!r}")
            self.items[tenant.id] = copy.deepcopy(tenant)
            self.audit._append(entry)


# ------------------------------------------------------------------ meters
class FakeMeterRepository(_Store):
    """``ports.MeterRepository`` (the adapter: ``MeterRepo``)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.items: dict[str, Meter] = {}

    def get(self, key: str) -> Meter | None:
        with self._lock:
            self.reads[key] += 1
            return copy.deepcopy(self.items.get(key))

    def list(self, limit: int, cursor: str | None) -> tuple[list[Meter], str | None]:
        with self._lock:
            items, nxt = _paging.page(list(self.items.values()), lambda m: m.key, limit, cursor, "meters")
            return copy.deepcopy(items), nxt

    def create(self, meter: Meter) -> None:
        with self._lock:
            if meter.key in self.items:
                raise Conflict(f"meter {meter.key!r} already exists")
            self.items[meter.key] = copy.deepcopy(meter)


# ------------------------------------------------------------------ plans
class FakePlanRepository(_Store):
    """``ports.PlanRepository`` (the adapter: ``PlanRepo``)."""

    def __init__(self, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit)
        self.items: dict[str, Plan] = {}

    def get(self, plan_id: str, consistent: bool = False) -> Plan | None:
        with self._lock:
            self.reads[plan_id] += 1
            return copy.deepcopy(self.items.get(plan_id))

    def list(self, limit: int, cursor: str | None) -> tuple[list[Plan], str | None]:
        with self._lock:
            items, nxt = _paging.page(list(self.items.values()), lambda p: p.id, limit, cursor, "plans")
            return copy.deepcopy(items), nxt

    def put(self, plan: Plan, previous: Plan | None, entry: AuditEntry) -> None:
        """Create (``previous`` None: the plan must not exist) or replace (the stored plan's
        ``updated_at`` must still be ``previous``'s), with the entry; Conflict otherwise."""
        with self._lock:
            stored = self.items.get(plan.id)
            holds = (
                stored is None if previous is None else stored is not None and stored.updated_at == previous.updated_at
            )
            if not holds:
                raise _changed(f"plan {plan.id!r}")
            self.audit._check(entry, f"plan {plan.id!r}")
            self.items[plan.id] = copy.deepcopy(plan)
            self.audit._append(entry)

    def create_if_absent(self, plan: Plan, entry: AuditEntry) -> bool:
        try:
            self.put(plan, None, entry)
        except Conflict:
            return False
        return True


# ------------------------------------------------------------------ overrides
class FakeOverridesRepository(_Store):
    """``ports.OverridesRepository`` (the adapter: ``OverridesRepo``)."""

    def __init__(self, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit)
        self.items: dict[str, tuple[tuple[Limit, ...], datetime]] = {}

    def get(self, tenant_id: str, consistent: bool = False) -> tuple[tuple[Limit, ...], datetime | None]:
        with self._lock:
            self.reads[tenant_id] += 1
            found = self.items.get(tenant_id)
            return found if found is not None else ((), None)

    def put(
        self, tenant_id: str, limits: tuple[Limit, ...], at: datetime, previous_at: datetime | None, entry: AuditEntry
    ) -> None:
        with self._lock:
            stored = self.items.get(tenant_id)
            holds = stored is None if previous_at is None else stored is not None and stored[1] == previous_at
            if not holds:
                raise _changed(f"the limits of tenant {tenant_id!r}")
            self.audit._check(entry, f"the limits of tenant {tenant_id!r}")
            self.items[tenant_id] = (tuple(limits), at)
            self.audit._append(entry)


# ------------------------------------------------------------------ API keys
class FakeApiKeyRepository(_Store):
    """``ports.ApiKeyRepository`` (the adapter: ``ApiKeyRepo``)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.items: dict[str, ApiKeyRecord] = {}

    def get(self, key_id: str, consistent: bool = False) -> ApiKeyRecord | None:
        with self._lock:
            self.reads[key_id] += 1
            return copy.deepcopy(self.items.get(key_id))

    def list(self, limit: int, cursor: str | None) -> tuple[list[ApiKeyRecord], str | None]:
        with self._lock:
            items, nxt = _paging.page(list(self.items.values()), lambda r: r.id, limit, cursor, "keys")
            return copy.deepcopy(items), nxt

    def create(self, record: ApiKeyRecord) -> None:
        """The adapter writes no ``revoked_at`` at creation, and does not map a taken id to
        Conflict."""
        with self._lock:
            if record.id in self.items:
                raise ConditionFailed(f"key {record.id!r} exists")
            self.items[record.id] = copy.deepcopy(record)
            self.items[record.id].revoked_at = None

    def revoke(self, record: ApiKeyRecord) -> None:
        """Sets the stored ``revoked_at`` to the record's (only that attribute)."""
        with self._lock:
            stored = self.items.get(record.id)
            if stored is None:
                raise ConditionFailed(f"key {record.id!r} does not exist")
            stored.revoked_at = record.revoked_at
