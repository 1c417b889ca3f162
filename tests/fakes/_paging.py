"""Opaque cursors for the fakes' lists: base64url of ``[scope, last key]``. A cursor is only
good for the list (``scope``) that issued it; anything else is a ValueError, like the real
adapters' cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

NOT_A_CURSOR = "not a cursor issued by this fake for this list"


def encode(scope: str, key: str) -> str:
    raw = json.dumps([scope, key], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str, scope: str) -> str:
    try:
        found_scope, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValueError(NOT_A_CURSOR) from None
    if found_scope != scope or not isinstance(key, str):
        raise ValueError(NOT_A_CURSOR)
    return key


def page(
    items: Sequence[T], key: Callable[[T], str], limit: int, cursor: str | None, scope: str, *, newest_first=False
) -> tuple[list[T], str | None]:
    """``items`` in key order (descending with ``newest_first``), ``limit`` from after the
    cursor's key. The cursor is None when nothing is left (DynamoDB may also return one for an
    empty last page; callers must not rely on either)."""
    ordered = sorted(items, key=key, reverse=newest_first)
    if cursor:
        after = decode(cursor, scope)
        ordered = [i for i in ordered if (key(i) < after if newest_first else key(i) > after)]
    limit = max(1, int(limit))
    taken = ordered[:limit]
    more = len(ordered) > limit
    return taken, encode(scope, key(taken[-1])) if more else None
