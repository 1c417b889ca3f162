"""API keys: create (shown once), list, revoke, and authenticate a presented key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tollgate.domain import keys as keylib
from tollgate.domain.errors import FieldError, NotFound, ValidationFailed
from tollgate.domain.keys import Principal, Scope
from tollgate.domain.records import ApiKeyRecord

from .catalog import TtlCache
from .ports import ApiKeyRepository, Clock, TenantRepository

MAX_UNKNOWN_KEYS = 10_000


@dataclass(frozen=True)
class AuthResult:
    principal: Principal | None
    error: str | None  # missing | invalid | revoked


class KeyService:
    """Found records and unknown key ids alike are remembered for ``cache_ttl`` seconds
    (AUTH_CACHE_TTL_SECONDS): a client (or an attacker) repeating an unknown key costs one read
    per minute per environment, not one per request. Key ids are random and new at creation, so
    no one presents one before it exists - except a preset key (TOLLGATE_ADMIN_KEY), and
    ``create_key`` forgets the miss in this environment."""

    def __init__(
        self,
        keys: ApiKeyRepository,
        tenants: TenantRepository,
        clock: Clock,
        *,
        cache_ttl: float = 60,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys, self._tenants, self._clock = keys, tenants, clock
        self._records = TtlCache[ApiKeyRecord](
            lambda key_id: keys.get(key_id), cache_ttl, monotonic, miss_ttl=cache_ttl, max_misses=MAX_UNKNOWN_KEYS
        )

    def create_key(
        self, scope: Scope, tenant_id: str | None = None, name: str | None = None, key: str | None = None
    ) -> tuple[ApiKeyRecord, str]:
        """Create a key and return its record and the plaintext key (the only time it exists).

        ``key`` presets the secret (the local stack's TOLLGATE_ADMIN_KEY); it must be shaped like
        one of ours. Creating the same preset key again returns the existing record."""
        if scope is Scope.TENANT:
            if not tenant_id:
                raise ValidationFailed("a tenant key needs a tenant", [FieldError("tenant_id", "is required")])
            if self._tenants.get(tenant_id) is None:
                raise ValidationFailed(f"no tenant {tenant_id!r}", [FieldError("tenant_id", "no such tenant")])
        elif tenant_id:
            raise ValidationFailed("only tenant keys name a tenant", [FieldError("tenant_id", "only for scope tenant")])
        if key is None:
            new = keylib.generate_key()
        else:
            parts = keylib.split_key(key)
            if parts is None or len(parts[1]) < 22:  # 22 base64url characters: 128 bits
                raise ValidationFailed(
                    "a preset key must look like tg_<16 hex>_<at least 22 characters>",
                    [FieldError("key", "not shaped like a Tollgate key")],
                )
            key_id = parts[0]
            existing = self._keys.get(key_id, consistent=True)
            if existing is not None and keylib.matches(key, existing.key_hash):
                return existing, key
            new = keylib.NewKey(id=key_id, key=key, key_hash=keylib.hash_key(key))
        record = ApiKeyRecord(
            id=new.id,
            key_hash=new.key_hash,
            scope=scope,
            tenant_id=tenant_id,
            name=name,
            created_at=self._clock.now(),
        )
        self._keys.create(record)
        self._records.invalidate(record.id)  # a preset key presented before it existed is known now
        return record, new.key

    def list_keys(self, limit: int, cursor: str | None) -> tuple[list[ApiKeyRecord], str | None]:
        return self._keys.list(limit, cursor)

    def revoke_key(self, key_id: str) -> ApiKeyRecord:
        record = self._keys.get(key_id, consistent=True)
        if record is None:
            raise NotFound(f"key {key_id!r} not found")
        if record.revoked_at is None:
            record.revoked_at = self._clock.now()
            self._keys.revoke(record)
        self._records.invalidate(key_id)  # this environment stops authenticating it at once
        return record

    def key_is_active(self, key_id: str) -> bool:
        """Strongly consistent, so a revocation takes effect on the next request."""
        record = self._keys.get(key_id, consistent=True)
        return record is not None and record.active

    def authenticate(self, presented: str | None) -> AuthResult:
        """Map a presented key to a principal. Records are cached per environment; the hash is
        compared in constant time on every call."""
        if not presented:
            return AuthResult(None, "missing")
        key_id = keylib.key_id_of(presented)
        record = self._records.get(key_id) if key_id else None
        if record is None or not keylib.matches(presented, record.key_hash):
            return AuthResult(None, "invalid")
        if not record.active:
            return AuthResult(None, "revoked")
        return AuthResult(record.principal(), None)
