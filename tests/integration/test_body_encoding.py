"""A body that is not UTF-8 JSON is a 400 ``/problems/malformed-request`` on every route that
takes one - UTF-16 and UTF-32 (with or without a byte order mark), a UTF-8 byte order mark,
Latin-1 - instead of a 500 or a 422 about field ``[1]``. One moto world: a 400 writes nothing."""

from __future__ import annotations

import json

import pytest

TENANT = {"id": "acme2", "name": "Café Acme"}
CONSUME = {"id": "café-1", "tenant": "acme", "meter": "api_calls", "amount": 1}
EVENT = {"id": "café-1", "type": "api_calls", "subject": "acme", "data": {"value": 1}}
PLAN = {"name": "Café plan"}
ROUTES = [
    ("POST", "/v1/tenants", TENANT),
    ("POST", "/v1/consume", CONSUME),
    ("POST", "/v1/events", EVENT),
    ("PUT", "/v1/plans/gold", PLAN),
]
ENCODINGS = {  # each body holds a non-ASCII character
    "UTF-16 with BOM": lambda text: text.encode("utf-16"),
    "UTF-16LE": lambda text: text.encode("utf-16-le"),
    "UTF-16BE": lambda text: text.encode("utf-16-be"),
    "UTF-32 with BOM": lambda text: text.encode("utf-32"),
    "UTF-32LE": lambda text: text.encode("utf-32-le"),
    "UTF-8 with BOM": lambda text: text.encode("utf-8-sig"),
    "Latin-1": lambda text: text.encode("latin-1"),
}


@pytest.fixture(scope="module")
def world(acme_module):
    return acme_module


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("method,route,doc", ROUTES, ids=[r for _, r, _ in ROUTES])
def test_a_body_not_in_utf8_is_malformed(world, method, route, doc, encoding):
    api, key = world
    raw = ENCODINGS[encoding](json.dumps(doc, ensure_ascii=False))
    r = api.call(method, route, key=key, body=raw)
    assert r.status == 400, r.body
    assert r.problem["type"] == "/problems/malformed-request"
    assert [e["field"] for e in r.problem["errors"]] == ["body"]
    assert "UTF-8" in r.problem["detail"]


def test_utf8_without_bom_is_fine(world):
    api, key = world
    r = api.call("POST", "/v1/tenants", key=key, body=json.dumps(TENANT, ensure_ascii=False).encode("utf-8"))
    assert r.status == 201 and r.body["name"] == "Café Acme"
