"""Crafted list cursors on /v1/tenants, /v1/keys, /v1/plans, /v1/meters and /v1/audit: every
malformed one is a 422 naming ``cursor`` (it used to be a 500 for several), and the cursors the
API issues still page. One moto world for the module: a 422 writes nothing."""

from __future__ import annotations

import base64
import json

import pytest


def _b64(raw: bytes | str) -> str:
    return base64.urlsafe_b64encode(raw.encode() if isinstance(raw, str) else raw).decode().rstrip("=")


def _cursor(doc) -> str:
    return _b64(json.dumps(doc))


LISTS = {  # route -> (query, the key attributes of its table)
    "/v1/tenants": ({}, ("id",)),
    "/v1/keys": ({}, ("id",)),
    "/v1/plans": ({}, ("id",)),
    "/v1/meters": ({}, ("key",)),
    "/v1/audit": ({"tenant": "acme"}, ("subject", "sk")),
}
CRAFTED = {
    "the issue's {id: x}": "eyJpZCI6IngifQ",
    "bad base64": "!!!!",
    "one base64 character": "a",
    "not JSON": _b64("{not json"),
    "JSON null": _cursor(None),
    "JSON array": _cursor([1, 2]),
    "JSON string": _cursor("x"),
    "empty object": _cursor({}),
    "value not typed": _cursor({"id": "x", "key": "x", "subject": "x", "sk": "x"}),
    "number where text": _cursor({"id": {"S": 5}, "key": {"S": 5}, "subject": {"S": 5}, "sk": {"S": 5}}),
    "type N": _cursor({"id": {"N": "5"}, "key": {"N": "5"}, "subject": {"N": "5"}, "sk": {"N": "5"}}),
    "two types": _cursor({k: {"S": "x", "N": "1"} for k in ("id", "key", "subject", "sk")}),
    "empty text": _cursor({k: {"S": ""} for k in ("id", "key", "subject", "sk")}),
    "a list as text": _cursor({k: {"S": ["x"]} for k in ("id", "key", "subject", "sk")}),
    "extra attribute": _cursor({**{k: {"S": "x"} for k in ("id", "key", "subject", "sk")}, "z": {"S": "y"}}),
    "lone surrogate": _cursor({k: {"S": "\ud800"} for k in ("id", "key", "subject", "sk")}),
    "not UTF-8": _b64(b'\xff\xfe{"id": {"S": "x"}}'),
    "UTF-16 JSON": _b64('{"id": {"S": "x"}}'.encode("utf-16")),
    "nested 1,500 deep": _b64("[" * 1500),
    "huge key": _cursor({k: {"S": "x" * 1500} for k in ("id",)}),
}


def _other_tables_key(attrs: tuple[str, ...]) -> str:
    """A well-formed cursor of a table with another key schema."""
    if attrs == ("id",):
        return _cursor({"key": {"S": "api_calls"}})
    if attrs == ("key",):
        return _cursor({"id": {"S": "acme"}})
    return _cursor({"id": {"S": "acme"}})


@pytest.fixture(scope="module")
def world(acme_module):
    """An item in every listed table, so the scan or query really starts from the cursor."""
    api, key = acme_module
    plan = {"name": "Free", "limits": [{"meter": "api_calls", "window": "month", "limit": 100}]}
    assert api.call("PUT", "/v1/plans/free", key=key, body=plan).status == 200
    return api, key


@pytest.mark.parametrize("route", list(LISTS))
@pytest.mark.parametrize("name", [*CRAFTED, "another table's key"])
def test_crafted_cursors_are_422_naming_cursor(world, route, name):
    api, admin_key = world
    query, attrs = LISTS[route]
    cursor = _other_tables_key(attrs) if name == "another table's key" else CRAFTED[name]
    r = api.call("GET", route, key=admin_key, query={**query, "cursor": cursor})
    assert r.status == 422, r.body
    assert r.problem["type"] == "/problems/validation-error"
    assert [e["field"] for e in r.problem["errors"]] == ["cursor"]


@pytest.fixture(scope="module")
def more_items(world):
    api, admin_key = world
    for i in range(3):  # more items in each list
        assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": f"t{i}", "name": "T"}).status == 201
        assert (
            api.call(
                "POST", "/v1/meters", key=admin_key, body={"key": f"m{i}", "name": "M", "aggregation": "count"}
            ).status
            == 201
        )
        assert api.call("POST", "/v1/keys", key=admin_key, body={"scope": "ingest"}).status == 201
        assert api.call("PUT", f"/v1/plans/p{i}", key=admin_key, body={"name": "P"}).status == 200
        assert (
            api.call("PATCH", "/v1/tenants/acme", key=admin_key, body={"plan": f"p{i}", "reason": "test"}).status == 200
        )


@pytest.mark.parametrize("route", list(LISTS))
def test_issued_cursors_still_page(world, more_items, route):
    api, admin_key = world
    query, _ = LISTS[route]
    seen, cursor = [], None
    while True:
        page = api.call(
            "GET", route, key=admin_key, query={**query, "limit": "1", **({"cursor": cursor} if cursor else {})}
        )
        assert page.status == 200, page.body
        seen += page.body["items"]
        cursor = page.body["next_cursor"]
        if not cursor:
            break
    assert len(seen) >= 3 and len({str(i) for i in seen}) == len(seen)


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_cursors_on_the_raw_event_listing_are_422_too(world, name):
    api, admin_key = world
    r = api.call("GET", "/v1/events", key=admin_key, query={"tenant": "acme", "cursor": CRAFTED[name]})
    assert r.status == 422, r.body
    assert [e["field"] for e in r.problem["errors"]] == ["cursor"]
