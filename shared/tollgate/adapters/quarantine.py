"""Quarantined events: accepted events the consumer could not count, kept with the reason.

Ingest rejects everything it knows no write could store, so a quarantine means a bug or a
limit we missed. The consumer then counts the rest of the message, stores the event here and
goes on; ``GET /v1/events/rejected`` lists them to admins, and the queue-health job reports
how many there were each UTC day.

Items (events table): ``pk = Q#<tenant>``, ``sk = <event time>#<hash of the event id>``, so a
redelivery quarantines the same event onto the same item. The event is kept as ASCII JSON
(``\\udfff`` escapes survive), whatever it holds. Each new item and the day's count
(counters table, ``pk = OPS#quarantined``, ``sk = <UTC day>``) are one transaction, so the
count is exact under redelivery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from tollgate.domain import stored_events
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent
from tollgate.services.ports import Quarantine
from tollgate.wire.usage_message import event_dict

from .ledger import num, s

QUARANTINE_COUNTER_PK = "OPS#quarantined"


def quarantine_pk(tenant: str) -> str:
    return f"Q#{tenant}"


def quarantine_sk(event: UsageEvent) -> str:
    digest = hashlib.blake2b(event.id.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{event.time}#{digest}"


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


class QuarantineStore:
    def __init__(self, client: Any, *, events_table: str, counters_table: str, retention_days: int = 400):
        self.client = client
        self.events_table = events_table
        self.counters_table = counters_table
        self.retention_days = retention_days

    def put(self, entries: Sequence[Quarantine], now: datetime) -> list[Exception | None]:
        """Store each entry once (a transaction with the day's count); per entry, the error."""
        expires = num(int((now + timedelta(days=self.retention_days)).timestamp()))
        out: list[Exception | None] = []
        for q in entries:
            item = {
                "pk": s(quarantine_pk(q.tenant)),
                "sk": s(quarantine_sk(q.event)),
                "event": s(json.dumps(event_dict(q.event), separators=(",", ":"), ensure_ascii=True)),
                "reason": s(_ascii(q.reason)[:2000]),
                "msg": s(q.message_id),
                "at": s(format_time(now)),
                "expires_at": expires,
            }
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.events_table,
                                "Item": item,
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self.counters_table,
                                "Key": {"pk": s(QUARANTINE_COUNTER_PK), "sk": s(now.date().isoformat())},
                                "UpdateExpression": "ADD v :one",
                                "ExpressionAttributeValues": {":one": num(1)},
                            }
                        },
                    ]
                )
                out.append(None)
            except ClientError as exc:
                reasons = exc.response.get("CancellationReasons") or []
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    out.append(None)  # quarantined by an earlier delivery
                else:
                    out.append(exc)
            except Exception as exc:  # noqa: BLE001 - connection errors, timeouts
                out.append(exc)
        return out

    def count_on(self, utc_day: str) -> int:
        item = self.client.get_item(
            TableName=self.counters_table, Key={"pk": s(QUARANTINE_COUNTER_PK), "sk": s(utc_day)}, ConsistentRead=True
        ).get("Item")
        return int(item["v"]["N"]) if item else 0

    def list(self, tenant: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A tenant's quarantined events, newest event time first. ValueError for a bad cursor."""
        kwargs: dict[str, Any] = {
            "TableName": self.events_table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": s(quarantine_pk(tenant))},
            "ScanIndexForward": False,
            "Limit": max(1, int(limit)),
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = {"pk": s(quarantine_pk(tenant)), "sk": s(_decode_cursor(cursor))}
        resp = self.client.query(**kwargs)
        items = [_entry(i) for i in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return items, (_encode_cursor(last["sk"]["S"]) if last else None)


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    """One listed entry, whatever the stored event holds: data that cannot be shown (too deep,
    not JSON) is replaced by ``dataomitted``, as ``GET /v1/events`` does."""
    event = stored_events.loads_bounded(item["event"]["S"], stored_events.MAX_DATA_DEPTH + 2)
    if not isinstance(event, dict):
        event = {}
    problem = stored_events.data_problem(event.get("data", {}))
    if problem is not None:
        event = {**event, "data": None, "dataomitted": f"{problem}; it cannot be shown"}
    return {
        "id": _ascii(str(event.get("id", ""))),
        "type": event.get("type") if isinstance(event.get("type"), str) else None,
        "time": event.get("time") if isinstance(event.get("time"), str) else None,
        "reason": item["reason"]["S"],
        "quarantined_at": item["at"]["S"],
        "event": _sanitize(event),
    }


def _sanitize(value: Any) -> Any:
    """Lone surrogates become U+FFFD, so the answer is valid JSON text (``reason`` says why)."""
    if isinstance(value, str):
        return value if value.isascii() else "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, dict):
        return {_sanitize(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitize(v) for v in value]
    if isinstance(value, stored_events.Unrenderable):
        return None
    return value


def _encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode("ascii")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("the cursor is not valid") from None
    time, sep, digest = sk.partition("#")
    if not sep or len(digest) != 32 or len(time) != 27:
        raise ValueError("the cursor is not valid")
    return sk
