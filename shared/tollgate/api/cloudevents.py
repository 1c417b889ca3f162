"""The CloudEvents 1.0 HTTP binding of ``POST /v1/events``: request body -> raw events.

Accepted bodies (plus plain JSON):

- ``application/json``: one event object, or an array of them;
- ``application/cloudevents+json``: structured mode, one event object;
- ``application/cloudevents-batch+json``: batched mode, an array of event objects;
- binary mode: the attributes in ``ce-*`` headers (percent-encoded, as the spec says), the body
  is the event's ``data`` (``application/json``, or no body at all).

A body that is not JSON is a 400 (``MalformedBody``); one of the wrong shape or size is a 422
naming ``body``. What each event must hold is ``tollgate.domain.events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from tollgate.domain.errors import FieldError, TollgateError, ValidationFailed
from tollgate.domain.events import MAX_EVENTS

from .http import loads_strict

JSON = "application/json"
CE_JSON = "application/cloudevents+json"
CE_BATCH = "application/cloudevents-batch+json"
MEDIA_TYPES = (JSON, CE_JSON, CE_BATCH)
CE_PREFIX = "ce-"


class MalformedBody(TollgateError):
    """The body is not JSON at all (400); everything else is per event or 422."""

    status, slug, title = 400, "malformed-request", "The request body is not valid JSON"


def _loads(body: bytes | str, what: str = "body") -> Any:
    try:
        return loads_strict(body)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedBody(f"malformed JSON in the {what}: {exc}") from None
    except RecursionError:
        raise MalformedBody(f"the JSON in the {what} is nested too deeply") from None


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(f"body: {message}", [FieldError("body", message)])


def is_binary_mode(headers: Mapping[str, str]) -> bool:
    """Binary content mode: the CloudEvents attributes travel as ``ce-*`` headers."""
    return any(k[:3].lower() == CE_PREFIX for k in headers)


def read_body(media_type: str, headers: Mapping[str, str], body: bytes | str) -> list[Any]:
    """The raw events of a request, in order. Raises ``MalformedBody`` (400) for a body that
    is not JSON and ``ValidationFailed`` (422) for one of the wrong shape or size."""
    if media_type in (JSON, "") and is_binary_mode(headers):
        return [binary_event(headers, body)]
    if not body:
        raise MalformedBody("the body is empty; send an event object or an array of events")
    doc = _loads(body)
    if media_type == CE_JSON:
        if not isinstance(doc, dict):
            raise _invalid(f"{CE_JSON} is one event object; send an array as {CE_BATCH}")
        return [doc]
    if isinstance(doc, dict) and media_type != CE_BATCH:
        return [doc]
    if not isinstance(doc, list):
        raise _invalid(f"{CE_BATCH} is an array of events" if media_type == CE_BATCH else _NOT_EVENTS)
    return _sized(doc)


_NOT_EVENTS = "must be an event object or an array of events"


def _sized(events: list[Any]) -> list[Any]:
    if not events:
        raise _invalid("the array is empty; send at least one event")
    if len(events) > MAX_EVENTS:
        raise _invalid(f"holds {len(events)} events; the limit is {MAX_EVENTS} per request")
    return events


def binary_event(headers: Mapping[str, str], body: bytes | str) -> dict[str, Any]:
    """Rebuild the event of a binary-mode request (header values are percent-decoded)."""
    event: dict[str, Any] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower[:3] == CE_PREFIX and len(lower) > 3:
            event[lower[3:]] = unquote(value)
    if body:
        event["data"] = _loads(body, "body (the event's data)")
    return event
