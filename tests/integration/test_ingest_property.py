"""Property: everything ingest accepts, the consumer counts (hypothesis, moto in-process).

Events are generated as a client could send them: random unicode (lone surrogates
included), nesting, and numbers at the edges of what DynamoDB and the meters take. Each
example runs the real validator, packs the accepted events into SQS bodies as ingest does,
and feeds them to the consumer handler. The consumer must count every accepted event on
the first delivery: no failed message, nothing quarantined, and counters equal to a naive
fold of the accepted events."""

from __future__ import annotations

import inspect
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import FakeContext
from tests.integration.test_consumer import (  # noqa: F401 - fixtures
    counter_state,
    create_tables,
    delete_tables,
    expected_state,
    failures,
    handler,
    logged_events,
    sqs_event,
    tables,
)
from tollgate.domain.events import Accepted, EventValidator
from tollgate.domain.meters import Aggregation, MeterSpec, Rounding
from tollgate.services import clock
from tollgate.wire.usage_message import decode, pack

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
METERS = {
    "calls": MeterSpec("calls", Aggregation.COUNT, group_by=("region",)),
    "bytes": MeterSpec("bytes", Aggregation.SUM, group_by=("region", "plan")),
    "cents": MeterSpec("cents", Aggregation.SUM, scale=2, rounding=Rounding.HALF_UP),
    "exact": MeterSpec("exact", Aggregation.SUM, scale=18),
    "peak": MeterSpec("peak", Aggregation.MAX, group_by=("region",)),
    "temp": MeterSpec("temp", Aggregation.LATEST),
    "users": MeterSpec("users", Aggregation.UNIQUE_COUNT, group_by=("region",)),
}

any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # surrogates included
edge_numbers = st.sampled_from(
    [
        "0",
        "-0",
        "1e30",
        "1e-131",
        "1e126",
        "0.000000001",
        "0.0000000001",
        "9999999999999.999999999",
        "10000000000000",
        "1" * 38,
        "1" * 39,
        "1e-9",
        "1E+12",
        "1_000",
        " 5 ",
        "NaN",
        "-1",
        "0.005",
        "0.015",
        "123456789012345678.123456789",
        "0.000000000000000001",
    ]
)
numbers = st.one_of(
    edge_numbers,
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str),
)
json_leaf = st.one_of(st.none(), st.booleans(), numbers, any_text)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(any_text, inner, max_size=3)),
    max_leaves=12,
)


@st.composite
def raw_event(draw: Any) -> dict[str, Any]:
    meter = draw(st.sampled_from(sorted(METERS)))
    data: dict[str, Any] = draw(st.dictionaries(any_text, json_value, max_size=3))
    if draw(st.booleans()):
        data["value"] = draw(numbers) if meter != "users" else draw(st.one_of(any_text, numbers))
    for dim in ("region", "plan"):
        if draw(st.booleans()):
            data[dim] = draw(st.one_of(st.sampled_from(["eu", "us"]), any_text, numbers, st.booleans()))
    event: dict[str, Any] = {
        "id": draw(st.one_of(st.sampled_from(["a", "b", "c"]), any_text)),
        "type": meter,
        "data": data,
    }
    if draw(st.booleans()):
        offset = draw(st.integers(min_value=-36 * 24 * 3600, max_value=600))
        event["time"] = (NOW + timedelta(seconds=offset)).isoformat()
    if draw(st.booleans()):
        event["source"] = draw(any_text)
    return event


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(raw_event(), min_size=1, max_size=12))
# the reliability findings: each was accepted (202) and then failed its whole batch
@example([{"id": "p1", "type": "calls", "data": {"note": "\udfff"}}])
@example([{"id": "p\udfff", "type": "calls"}])
@example(
    [
        {"id": "a", "type": "bytes", "data": {"value": "1e30"}},
        {"id": "b", "type": "bytes", "data": {"value": "0.00000001"}},
    ]
)
@example([{"id": "a", "type": "peak", "data": {"value": "1e-131"}}])
def test_every_accepted_event_is_counted(tables, handler, monkeypatch, raw_events):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    delete_tables(tables, _names())  # a clean slate per example: scans stay small
    create_tables(tables)
    tenant = f"t{uuid.uuid4().hex[:12]}"
    validator = EventValidator(now=NOW, own_tenant=tenant, timezone_of=lambda t: "Europe/Paris", meter_of=METERS.get)
    batch = validator.validate(raw_events)
    accepted: list[Accepted] = batch.accepted
    if not accepted:
        return
    bodies = [
        p.body for p in pack(tenant, "Europe/Paris", batch.meters, [(a.index, a.meter, a.encoded) for a in accepted])
    ]
    messages = [(f"{tenant}-{i}", b) for i, b in enumerate(bodies)]
    assert failures(handler(sqs_event(messages), FakeContext())) == set()
    quarantine_log = inspect.unwrap(handler).__globals__["root"].quarantine_log  # the consumer environment's
    assert quarantine_log.list(tenant, 100, None)[0] == []

    decoded = [decode(b) for b in bodies]
    assert counter_state(tables) == expected_state(decoded)
    logged: dict[str, int] = defaultdict(int)
    for t, event_id in logged_events(tables):
        assert t == tenant
        logged[event_id] += 1
    assert logged == {a.id: 1 for a in accepted}


def _names() -> dict[str, str]:
    import os

    return {env: os.environ[env] for env in ("EVENTS_TABLE", "COUNTERS_TABLE")}
