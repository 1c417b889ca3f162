"""Reading the RateLimit headers (draft-ietf-httpapi-ratelimit-headers, RFC 8941 lists):
``RateLimit-Policy: "name";q=10;w=60, ...`` and ``RateLimit: "name";r=3;t=20, ...``."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .models import RateLimitMember

_MEMBER = re.compile(r'\s*"((?:[^"\\]|\\.)*)"((?:\s*;\s*[a-z][a-z0-9_*.-]*(?:=[^;,]*)?)*)\s*(?:,|$)')
_PARAM = re.compile(r";\s*([a-z][a-z0-9_*.-]*)(?:=([^;,]*))?")
_FIELDS = {"q": "limit", "w": "window", "r": "remaining", "t": "reset"}
PASSED_ON = ("RateLimit-Policy", "RateLimit", "Retry-After")


def _members(value: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for m in _MEMBER.finditer(value or ""):
        name = re.sub(r"\\(.)", r"\1", m.group(1))
        params = out.setdefault(name, {})
        for key, raw in _PARAM.findall(m.group(2)):
            if key in _FIELDS and raw.strip().isdigit():
                params[_FIELDS[key]] = int(raw.strip())
    return out


def parse(headers: Mapping[str, str]) -> list[RateLimitMember]:
    """The members of both headers, merged by name, in ``RateLimit-Policy`` order."""
    merged = _members(headers.get("RateLimit-Policy", ""))
    for name, params in _members(headers.get("RateLimit", "")).items():
        merged.setdefault(name, {}).update(params)
    return [RateLimitMember(name=name, **params) for name, params in merged.items()]


def passed_on(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers a middleware passes on to its own client, as received."""
    return {name: headers[name] for name in PASSED_ON if headers.get(name) is not None}
