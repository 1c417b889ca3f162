"""Opaque page cursors: base64url (unpadded) of compact JSON, the one encoding of every list's
``next_cursor``. What a cursor holds, and how it is checked against its list, is the list's."""

from __future__ import annotations

import base64
import json
from typing import Any


def encode(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str) -> Any:
    """The JSON value of a cursor. ValueError for anything else: not base64, not UTF-8, not
    JSON, or nested deep enough to exhaust the decoder."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw.decode("utf-8"))
    except (ValueError, TypeError, RecursionError) as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise ValueError("not a cursor") from exc
