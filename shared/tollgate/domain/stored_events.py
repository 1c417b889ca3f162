"""Reading the raw-event log back for ``GET /v1/events``, whatever it holds. Pure; no AWS.

The log is written by the consumer (``tollgate.adapters.event_log``: zlib of a JSON array of
``usage_message.event_dict()`` dicts), but the listing must answer for everything it ever wrote
and anything storage may hold: data that ingest once accepted and no longer does (nested 900
levels deep, before ingest limited nesting), and chunks no code writes (corrupt, not JSON,
nested past any parser's recursion). So:

- ``chunk_events`` (the text of a chunk; ``event_log.decode_chunk`` unpacks the stored bytes)
  never raises. It parses with ``json.loads`` and, when that fails (recursion,
  a number Python will not hold), with ``loads_bounded``, which uses no recursion and stands a
  marker in for what it cannot hold. A chunk that is not JSON at all, and an event without a
  string ``id`` and a well-formed ``time`` (it could be neither ordered nor paged past), are
  left out and logged: there is nothing to show of them.
- ``render`` gives the CloudEvent of an event. Data that cannot be rendered - nested more than
  ``MAX_DATA_DEPTH`` levels, not an object, holding a number JSON cannot carry - is replaced:
  ``"data": null`` and ``"dataomitted": "<why>"``. The event itself (id, type, time) is shown:
  it was counted.
"""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import datetime
from json.decoder import scanstring  # type: ignore[attr-defined]  # typeshed does not declare it
from json.scanner import NUMBER_RE
from typing import Any

from tollgate.wire.usage_message import event_of

from .times import TIME_TEXT

log = logging.getLogger(__name__)

MAX_DATA_DEPTH = 64
"""Data nested deeper is not rendered: twice what ingest takes today, well inside the response
encoder's limits (pydantic stops near 255 levels, ``json`` at the interpreter's recursion limit)."""

_WS = re.compile(r"[ \t\n\r]*")
_SPECIAL = re.compile(r'["\[\]{}]')
_CONSTANTS = {"true": True, "false": False, "null": None, "NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Unrenderable:
    """Stands in for a value ``loads_bounded`` could not hold."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


TOO_DEEP = f"data is nested more than {MAX_DATA_DEPTH} levels deep"


# ------------------------------------------------------------------ reading a chunk
def chunk_events(text: str) -> list[dict[str, Any]]:
    """The events of one log chunk's JSON text that can be listed; never raises."""
    try:
        doc = json.loads(text)
    except (RecursionError, ValueError):
        try:  # an event/chunk (chunk: array, event, data: + 2 levels) too deep, or a number too long
            doc = loads_bounded(text, MAX_DATA_DEPTH + 2)
        except ValueError as exc:
            log.error("a raw-event log chunk could not be read (not JSON: %s); its events are left out", exc)
            return []
    if not isinstance(doc, list):
        log.error("a raw-event log chunk could not be read (not a JSON array); its events are left out")
        return []
    events = [e for e in doc if _listable(e)]
    if len(events) < len(doc):
        log.error(
            "%d events of a raw-event log chunk could not be read (no id or time); left out", len(doc) - len(events)
        )
    return events


def _listable(e: Any) -> bool:
    if not isinstance(e, dict) or not isinstance(e.get("id"), str) or not isinstance(e.get("time"), str):
        return False
    if not TIME_TEXT.match(e["time"]):
        return False
    try:
        datetime.fromisoformat(e["time"])
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------ rendering an event
def render(e: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The CloudEvent ``GET /v1/events`` answers for a stored event (see ``StoredEvent``)."""
    try:
        out = event_of(e).as_cloudevent(tenant)
    except (KeyError, TypeError, ValueError):  # a field missing: show what there is
        out = {
            "specversion": "1.0",
            "id": e["id"],
            "type": "",
            "source": "tollgate",
            "subject": tenant,
            "time": e["time"],
            "data": e.get("data") or {},
        }
    if not isinstance(out.get("type"), str):
        out["type"] = ""
    if not isinstance(out.get("source"), str) or not out["source"]:
        out["source"] = "tollgate"
    problem = data_problem(out.get("data"))
    if problem is not None:
        out["data"] = None
        out["dataomitted"] = f"{problem}; it cannot be shown"
    return out


def data_problem(data: Any) -> str | None:
    """Why ``data`` cannot be rendered, or None. Iterative: any depth is safe to inspect."""
    if not isinstance(data, dict):
        return "data is not an object"
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DATA_DEPTH:
            return TOO_DEEP
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
            elif isinstance(item, Unrenderable):
                return item.reason
            elif isinstance(item, float) and not math.isfinite(item):
                return "data holds a number JSON cannot carry (NaN or Infinity)"
    return None


# ------------------------------------------------------------------ a parser without recursion
def loads_bounded(text: str, max_depth: int) -> Any:
    """``json.loads`` with an explicit stack instead of recursion, for text it cannot take. A
    container deeper than ``max_depth`` is skipped and an ``Unrenderable`` stands in for it, as
    for a number Python will not hold. Raises ValueError for text that is not JSON."""
    parser = _BoundedParser(text, max_depth)
    idx = _ws(text, 0)
    while True:
        value, idx = parser.value_at(idx)
        if value is _OPENED:
            continue
        done, value, idx = parser.settle(value, idx)
        if done:
            return value


_OPENED = object()
"""``value_at`` opened a container: its first value is read next."""


class _BoundedParser:
    def __init__(self, text: str, max_depth: int) -> None:
        self.text = text
        self.max_depth = max_depth
        self.stack: list[list[Any]] = []  # [container, key of the value being read (objects)]

    def value_at(self, idx: int) -> tuple[Any, int]:
        """The value at ``idx`` and the position after it; or ``_OPENED`` and the position of
        its first value, for a non-empty array or object within ``max_depth`` (now on the stack)."""
        text = self.text
        if idx >= len(text):
            raise ValueError("unexpected end of text")
        c = text[idx]
        if c == '"':
            string: tuple[str, int] = scanstring(text, idx + 1)
            return string
        if c not in "[{":
            return _scalar(text, idx)
        if len(self.stack) >= self.max_depth:
            return Unrenderable(TOO_DEEP), _skip_container(text, idx)
        idx = _ws(text, idx + 1)
        if text.startswith("]" if c == "[" else "}", idx):
            return ([] if c == "[" else {}), idx + 1
        self.stack.append([[] if c == "[" else {}, None])
        if c == "{":
            self.stack[-1][1], idx = _key(text, idx)
        return _OPENED, idx

    def settle(self, value: Any, idx: int) -> tuple[bool, Any, int]:
        """Put ``value`` in its container and close the containers it completes. ``(True, the
        document, idx)`` at the end of the text, else ``(False, None, position of the next value)``."""
        text = self.text
        while self.stack:
            container, key = self.stack[-1]
            if isinstance(container, dict):
                container[key] = value
            else:
                container.append(value)
            idx = _ws(text, idx)
            ch = text[idx : idx + 1]
            if ch == ",":
                idx = _ws(text, idx + 1)
                if isinstance(container, dict):
                    self.stack[-1][1], idx = _key(text, idx)
                return False, None, idx
            if ch != ("}" if isinstance(container, dict) else "]"):
                raise ValueError(f"expected ',' or a closing bracket at {idx}")
            idx += 1
            self.stack.pop()
            value = container
        if _ws(text, idx) != len(text):
            raise ValueError(f"extra data at {idx}")
        return True, value, idx


def _ws(text: str, idx: int) -> int:
    """The position after the JSON white space at ``idx``."""
    m = _WS.match(text, idx)
    return m.end() if m else idx


def _key(text: str, idx: int) -> tuple[str, int]:
    """An object's key at ``idx`` and the position of its value."""
    if not text.startswith('"', idx):
        raise ValueError(f"expected a key at {idx}")
    key, idx = scanstring(text, idx + 1)
    idx = _ws(text, idx)
    if not text.startswith(":", idx):
        raise ValueError(f"expected ':' at {idx}")
    return key, _ws(text, idx + 1)


def _scalar(text: str, idx: int) -> tuple[Any, int]:
    for word, constant in _CONSTANTS.items():
        if text.startswith(word, idx):
            return constant, idx + len(word)
    m = NUMBER_RE.match(text, idx)
    if m is None:
        raise ValueError(f"unexpected character at {idx}")
    integer, frac, exp = m.groups()
    try:
        number: Any = float(integer + (frac or "") + (exp or "")) if frac or exp else int(integer)
    except ValueError:  # more digits than int() takes (sys.set_int_max_str_digits)
        number = Unrenderable("data holds a number with too many digits")
    return number, m.end()


def _skip_container(text: str, idx: int) -> int:
    """The position after the array or object starting at ``idx``, without building it."""
    depth = 0
    while True:
        m = _SPECIAL.search(text, idx)
        if m is None:
            raise ValueError("unexpected end of text")
        c, idx = m.group(), m.end()
        if c == '"':
            _, idx = scanstring(text, idx)
        elif c in "[{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return idx
