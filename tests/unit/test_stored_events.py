"""The raw-event log reader's own JSON parser (no recursion) and the data checks
(tollgate.domain.stored_events), and reading a stored chunk (tollgate.adapters.event_log)."""

from __future__ import annotations

import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tollgate.adapters.event_log import decode_chunk
from tollgate.domain.stored_events import MAX_DATA_DEPTH, TOO_DEEP, Unrenderable, data_problem, loads_bounded

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


@given(JSON_VALUES, st.sampled_from([None, 2]))
def test_loads_bounded_reads_what_json_loads_reads(value, indent):
    text = json.dumps(value, indent=indent)
    assert loads_bounded(text, 1000) == json.loads(text)


@pytest.mark.parametrize("text", ["", "[", "[1,]", '{"a" 1}', '{"a": 1', "[1] x", "tru", "{1: 2}", "[1 2]", '"open'])
def test_loads_bounded_refuses_what_is_not_json(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        loads_bounded(text, 1000)


def test_containers_past_the_depth_become_markers_without_recursion():
    text = '{"a": [1, {"b": ' + "[" * 200_000 + '"]}"' + "]" * 200_000 + '}], "c": 2}'
    doc = loads_bounded(text, 3)
    assert doc["c"] == 2 and doc["a"][0] == 1 and isinstance(doc["a"][1]["b"], Unrenderable)


def test_data_checks():
    deep: dict = {}
    inner = deep
    for _ in range(MAX_DATA_DEPTH - 1):
        inner["x"] = {}
        inner = inner["x"]
    assert data_problem(deep) is None
    inner["x"] = [1]
    assert data_problem(deep) == TOO_DEEP
    assert data_problem([1]) == "data is not an object"
    assert "NaN" in data_problem({"v": [float("inf")]})


def test_decode_chunk_never_raises():
    good = {"id": "a", "time": "2026-11-20T10:00:00.000000Z", "type": "m", "value": "1"}
    assert decode_chunk(zlib.compress(json.dumps([good]).encode())) == [good]
    for blob in (None, b"", b"junk", zlib.compress(b"\xff\xfe"), zlib.compress(b"{}"), zlib.compress(b"[1")):
        assert decode_chunk(blob) == []
    bad_times = [{**good, "time": t} for t in ("2026-13-40T10:00:00.000000Z", "2026-11-20T10:00:00Z", 5)]
    assert decode_chunk(zlib.compress(json.dumps([*bad_times, good]).encode())) == [good]
