"""Ids that callers choose: tenant and plan ids. Pure; no AWS.

An id is 1 to 64 letters, digits, ``_``, ``.`` and ``-``. Any other text names nothing, so it is
never looked up. A new id may not be only dots: ``.`` and ``..`` are path segments that URLs
normalize away (and ``...`` is as bad in practice), so such an id could never be addressed as
``/v1/tenants/<id>``.
"""

from __future__ import annotations

import re

ID_MAX_LENGTH = 64
ID_PATTERN = r"^[a-zA-Z0-9_.-]{1,64}$"
"""What an id can be (the API's query and path parameters)."""
NEW_ID_PATTERN = r"^[a-zA-Z0-9_.-]*[a-zA-Z0-9_-][a-zA-Z0-9_.-]*$"
"""What a new id can be (with ``ID_MAX_LENGTH``): not only dots."""

_ID = re.compile(ID_PATTERN)


def is_id(text: str) -> bool:
    """Whether ``text`` can be an id (the whole text: ``$`` alone would admit a final newline)."""
    return _ID.fullmatch(text) is not None
