"""Lambda event filtering (an event source mapping's ``FilterCriteria``): the part of
EventBridge's pattern language the local stack needs.

A pattern is a JSON object whose keys name fields of the record; an object value goes one level
down (``{"dynamodb": {"Keys": ...}}``), and a list value is what the field may be: exact strings,
numbers, booleans or null, ``{"prefix": "..."}``, ``{"exists": true|false}``. A record matches
when every field the pattern names matches, and a field matches when any element of its list
does (for a field that holds a list, any element of it). Numbers compare by value, and a string
never equals a number: DynamoDB numbers are strings in a stream record (``{"N": "5"}``), so a
pattern names them as strings. ``exists`` tests presence, and a field that is absent (or under an
absent object) matches ``{"exists": false}`` only.

A mapping's filters are alternatives: a record that matches any of them is delivered, one that
matches none is dropped, as Lambda drops it. Other operators (``anything-but``, ``numeric``,
``suffix``, ``equals-ignore-case``, ``wildcard``, ``$or``) are refused when the pattern is read,
so the local stack never reads a pattern differently from Lambda without saying so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

_ABSENT = object()
_OPERATORS = {"prefix": str, "exists": bool}


class FilterError(ValueError):
    """A pattern this module cannot read (malformed, or an operator it does not implement)."""


def parse_pattern(pattern: str | Mapping[str, Any]) -> dict[str, Any]:
    """A ``FilterCriteria`` pattern (the JSON text, or the object), checked."""
    if isinstance(pattern, str):
        try:
            parsed = json.loads(pattern)
        except ValueError as error:
            raise FilterError(f"a filter pattern is not JSON: {error}") from error
    else:
        parsed = dict(pattern)
    _check_object(parsed, "")
    checked: dict[str, Any] = parsed
    return checked


def _check_object(pattern: Any, path: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise FilterError(f"the filter pattern at {path or 'the top'} must be a non-empty object")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key.startswith("$"):
            raise FilterError(f"{where}: {key} is not supported by the local stack's filters")
        if isinstance(value, dict):
            _check_object(value, where)
        elif isinstance(value, list) and value:
            for element in value:
                _check_element(element, where)
        else:
            raise FilterError(f"{where}: a field's pattern is an object or a non-empty list, not {value!r}")


def _check_element(element: Any, where: str) -> None:
    if element is None or isinstance(element, (str, int, float, bool)):
        return
    if isinstance(element, dict) and len(element) == 1:
        ((operator, argument),) = element.items()
        if operator not in _OPERATORS:
            raise FilterError(
                f"{where}: the {operator!r} operator is not supported by the local stack's filters "
                f"(only exact values, {', '.join(sorted(_OPERATORS))})"
            )
        if not isinstance(argument, _OPERATORS[operator]):
            raise FilterError(f"{where}: {operator} takes a {_OPERATORS[operator].__name__}, not {argument!r}")
        return
    raise FilterError(f"{where}: {element!r} is not a value or a one-operator object")


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether ``record`` matches one parsed pattern."""
    for key, expected in pattern.items():
        value = record.get(key, _ABSENT) if isinstance(record, dict) else _ABSENT
        if isinstance(expected, dict):
            if not matches(expected, value if isinstance(value, dict) else {}):
                return False
        elif not any(_element_matches(element, value) for element in expected):
            return False
    return True


def matches_any(patterns: Iterable[Mapping[str, Any]], record: Any) -> bool:
    """Whether a record passes a mapping's filters: any of them matches (no filters: all pass)."""
    patterns = list(patterns)
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def _element_matches(element: Any, value: Any) -> bool:
    if isinstance(element, dict):
        ((operator, argument),) = element.items()
        if operator == "exists":
            return (value is not _ABSENT) is argument
        if value is _ABSENT:
            return False
        values = value if isinstance(value, list) else [value]
        return any(isinstance(v, str) and v.startswith(argument) for v in values)
    if value is _ABSENT:
        return False
    values = value if isinstance(value, list) else [value]
    return any(_equal(element, v) for v in values)


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return expected is value
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return expected == value
    return type(expected) is type(value) and expected == value
