"""GET /v1/events answers 200 whatever the raw-event log holds. Chunks are written straight
through the adapter (``Ledger.write_log``), as the consumer writes them - including what ingest
once accepted and no longer does (data nested 900 deep), and what no code writes but storage
might hold (a chunk nested past any parser's recursion, a corrupt chunk, events without an id).

An event whose data cannot be rendered comes back with ``"data": null`` and ``"dataomitted"``
saying why; the other events of its chunk and page are untouched."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import new_root
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tests.integration.routing import RoutedApi

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    from tollgate.domain.times import format_time

    return format_time(NOW - timedelta(minutes=minutes))


def nested(depth: int) -> dict:
    data: dict = {"value": 1}
    inner = data
    for _ in range(depth - 1):
        inner["x"] = {}
        inner = inner["x"]
    return data


def event(event_id: str, minutes: int, data=None) -> dict:
    e = {"id": event_id, "type": "api_calls", "time": at(minutes), "value": "1"}
    if data is not None:
        e["data"] = data
    return e


@dataclass(frozen=True)
class RawChunk:
    """A log chunk with a body written as given (the consumer's LogChunk compresses JSON)."""

    pk: str
    sk: str
    oldest: str
    events: tuple
    raw: bytes

    def body(self) -> bytes:
        return self.raw


def write(message_id: str, events: list[dict], raw_json: str | None = None, blob: bytes | None = None) -> None:
    from tollgate.adapters.event_log import LogChunk
    from tollgate.domain import storage_keys as keys

    newest, oldest = max(e["time"] for e in events), min(e["time"] for e in events)
    pk = keys.log_pk("acme", newest[:10], keys.log_shard(message_id))
    sk = keys.log_sk(newest, message_id, 0)
    if raw_json is None and blob is None:
        chunk = LogChunk(pk, sk, newest, oldest, tuple(events))
    else:
        chunk = RawChunk(pk, sk, oldest, tuple(events), blob if blob is not None else zlib.compress(raw_json.encode()))
    assert new_root().ledger.write_log([chunk], NOW) == [None]


@pytest.fixture
def world(fresh_aws, monkeypatch):
    from tollgate.domain.keys import Scope
    from tollgate.services import clock

    monkeypatch.setattr(clock, "now", lambda: NOW)
    api, admin = RoutedApi(), new_root().keys.create_key(Scope.ADMIN, name="test-admin")[1]
    assert api.call("POST", "/v1/tenants", key=admin, body={"id": "acme", "name": "Acme"}).status == 201
    return api, admin


def listing(api, admin, **query) -> list[dict]:
    items, cursor = [], None
    while True:
        q = {"tenant": "acme", **query, **({"cursor": cursor} if cursor else {})}
        r = api.call("GET", "/v1/events", key=admin, query=q)
        assert r.status == 200, r.body
        items += r.body["items"]
        cursor = r.body["next_cursor"]
        if not cursor:
            return items


def test_data_nested_900_deep_is_replaced_by_a_marker(world):
    api, admin = world
    write("m1", [event("before", 3, {"value": 1}), event("deep", 2, nested(900)), event("after", 1, {"value": 2})])
    items = listing(api, admin)
    assert [e["id"] for e in items] == ["after", "deep", "before"]
    deep = items[1]
    assert deep["data"] is None and "nested more than 64 levels" in deep["dataomitted"]
    assert deep["type"] == "api_calls" and deep["time"] == at(2)
    assert items[0]["data"] == {"value": 2} and "dataomitted" not in items[0]


def test_a_chunk_nested_past_the_json_parsers_recursion_still_lists(world):
    api, admin = world
    deep = '{"value": 1, "x": ' + '{"x": ' * 100_000 + "1" + "}" * 100_000 + "}"
    events = [event("ok", 2, {"value": 1}), event("deep", 1)]
    raw = (
        "["
        + json.dumps(events[0])
        + ', {"id": "deep", "type": "api_calls", "time": "'
        + at(1)
        + '", "value": "1", "data": '
        + deep
        + "}]"
    )
    write("m1", events, raw_json=raw)
    items = listing(api, admin)
    assert [e["id"] for e in items] == ["deep", "ok"]
    assert items[0]["data"] is None and items[0]["dataomitted"]
    assert items[1]["data"] == {"value": 1}


def test_data_at_the_limit_is_shown_and_paging_goes_past_a_marked_event(world):
    api, admin = world
    write("m1", [event("e64", 3, nested(64)), event("e65", 2, nested(65)), event("e1", 1, {"value": 1})])
    items = listing(api, admin, limit="1")
    assert [e["id"] for e in items] == ["e1", "e65", "e64"]
    assert items[2]["data"] == nested(64) and items[1]["data"] is None


@pytest.mark.parametrize(
    "data,says",
    [
        ([1, 2], "not an object"),
        ("text", "not an object"),
        ({"value": float("nan")}, "NaN or Infinity"),
    ],
)
def test_data_that_is_not_a_finite_json_object_is_marked(world, data, says):
    api, admin = world
    write("m1", [event("odd", 2, data), event("ok", 1, {"value": 1})])
    items = listing(api, admin)
    assert [e["id"] for e in items] == ["ok", "odd"]
    assert items[1]["data"] is None and says in items[1]["dataomitted"]


def test_a_huge_number_in_data_is_marked(world):
    api, admin = world
    raw = (
        "["
        + json.dumps(event("ok", 2, {"value": 1}))
        + ', {"id": "big", "type": "api_calls", "time": "'
        + at(1)
        + '", "value": "1", "data": {"value": '
        + "9" * 5000
        + "}}]"
    )
    write("m1", [event("ok", 2), event("big", 1)], raw_json=raw)
    items = listing(api, admin)
    assert [e["id"] for e in items] == ["big", "ok"] and items[0]["data"] is None


def test_unreadable_chunks_and_events_are_left_out(world, caplog):
    api, admin = world
    write("m1", [event("a", 5)], blob=b"not zlib at all")
    write("m2", [event("b", 4)], raw_json="[{oops")
    write("m3", [event("c", 3)], raw_json='{"not": "a list"}')
    write(
        "m4",
        [event("d", 2), event("e", 2)],
        raw_json='[42, {"type": "api_calls"}, {"id": 5, "time": "' + at(2) + '"}, {"id": "t", "time": "yesterday"}]',
    )
    write("m5", [event("fine", 1, {"value": 1})])
    assert [e["id"] for e in listing(api, admin)] == ["fine"]
    assert "could not be read" in caplog.text


def test_an_event_without_type_value_or_source_still_lists(world):
    api, admin = world
    write("m1", [event("bare", 1)], raw_json='[{"id": "bare", "time": "' + at(1) + '"}]')
    [item] = listing(api, admin)
    assert item["id"] == "bare" and item["data"] == {} and item["source"] == "tollgate"
