"""API keys: generation, hashing, constant-time checks and principals. Pure; no AWS.

A key looks like ``tg_<id>_<secret>``: the id (``key_<id>`` in the API) locates the record
with one GetItem, and the 256-bit secret is never stored - only SHA-256 of the whole key.
A high-entropy secret needs no slow hash; comparing digests with ``hmac.compare_digest``
keeps the check constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

KEY_PREFIX = "tg_"
_ID_BYTES = 8  # 16 hex characters
_SECRET_BYTES = 32  # 256 bits


class Scope(str, Enum):
    ADMIN = "admin"
    INGEST = "ingest"
    TENANT = "tenant"


@dataclass(frozen=True)
class NewKey:
    id: str
    key: str  # shown once, never stored
    key_hash: str


@dataclass(frozen=True)
class Principal:
    key_id: str
    scope: Scope
    tenant_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.ADMIN

    def as_context(self) -> dict[str, str]:
        """Authorizer context (API Gateway passes it to the handlers as strings)."""
        return {"key_id": self.key_id, "scope": self.scope.value, "tenant_id": self.tenant_id or ""}

    @classmethod
    def from_context(cls, ctx: Mapping[str, Any]) -> Principal | None:
        try:
            return cls(key_id=ctx["key_id"], scope=Scope(ctx["scope"]), tenant_id=ctx.get("tenant_id") or None)
        except (KeyError, ValueError, TypeError):
            return None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> NewKey:
    raw_id = secrets.token_hex(_ID_BYTES)
    key = f"{KEY_PREFIX}{raw_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return NewKey(id=f"key_{raw_id}", key=key, key_hash=hash_key(key))


def split_key(key: str) -> tuple[str, str] | None:
    """(record id, secret) of a key shaped like one of ours, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    raw_id, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(raw_id) != 2 * _ID_BYTES or not secret:
        return None
    try:
        int(raw_id, 16)
    except ValueError:
        return None
    return f"key_{raw_id}", secret


def key_id_of(key: str) -> str | None:
    """The record id a presented key claims, or None when it is not shaped like one of ours."""
    parts = split_key(key)
    return parts[0] if parts else None


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)


def key_from_headers(headers: dict[str, str] | None) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-Api-Key: <key>`` (header names case-insensitive)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    auth = lowered.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    api_key = lowered.get("x-api-key", "").strip()
    return api_key or None


def redact(key: str) -> str:
    """What may be logged about a key: its id only."""
    return key_id_of(key) or "<malformed>"
