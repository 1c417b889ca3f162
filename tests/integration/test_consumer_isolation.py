"""One message never fails another: poison bodies, uncountable events and write failures are
attributed to the message that caused them (moto in-process, tables from template.yaml).

The reliability finding these reproduce: one event holding a lone surrogate made the
consumer raise while encoding the raw-event log, outside the per-record handling, so the
whole SQS batch failed and other tenants' usage went to the dead-letter queue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FakeContext, new_root
from tests.integration.test_consumer import (  # noqa: F401 - fixtures
    METERS,
    T0,
    body,
    consumer_handler,
    e,
    failures,
    handler,
    logged_events,
    root_of,
    sqs_event,
    tables,
    value,
)
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent
from tollgate.services import clock

TENANTS = [f"t{i}" for i in range(9)]


def nine_good_messages() -> list[tuple[str, str]]:
    """Nine messages of nine other tenants: 2 calls and 10.5 bytes each."""
    return [
        (
            f"good-{t}",
            body(t, [e(f"{t}-c", "calls", "1"), e(f"{t}-c2", "calls", "1", 1), e(f"{t}-b", "bytes", "10.5")], METERS),
        )
        for t in TENANTS
    ]


def assert_nine_counted(client: Any) -> None:
    for t in TENANTS:
        assert value(client, f"T#{t}#calls#lifetime", "lifetime") == 2, t
        assert value(client, f"T#{t}#bytes#lifetime", "lifetime") == Decimal("10.5"), t


def surrogate_event(id_: str = "p1") -> UsageEvent:
    return UsageEvent(id=id_, meter="calls", time=format_time(T0), value="1", data={"note": "\udfff"})


def test_a_lone_surrogate_is_quarantined_and_the_batch_is_counted(tables, handler):
    bad = ("bad", body("acme", [surrogate_event(), e("fine", "calls", "1")], METERS))
    batch = sqs_event([bad, *nine_good_messages()])
    assert failures(handler(batch, FakeContext())) == set()
    assert_nine_counted(tables)
    assert value(tables, "T#acme#calls#lifetime", "lifetime") == 1  # the rest of its message counts
    assert ("acme", "fine") in logged_events(tables)
    items, _ = new_root().quarantine_log.list("acme", 10, None)
    assert [(i["id"], i["event"]["data"]["note"]) for i in items] == [("p1", "\ufffd")]
    assert "surrogate" in items[0]["reason"]
    day = clock.now().date().isoformat()
    assert new_root().quarantine_log.count_on(day) == 1
    # a redelivery neither recounts nor quarantines twice
    assert failures(handler(batch, FakeContext())) == set()
    assert_nine_counted(tables)
    assert value(tables, "T#acme#calls#lifetime", "lifetime") == 1
    assert new_root().quarantine_log.count_on(day) == 1


@pytest.mark.parametrize("bad_id", ["p\udfff", "\ud800"])
def test_a_lone_surrogate_in_the_id_is_quarantined(tables, handler, bad_id):
    event = UsageEvent(id=bad_id, meter="calls", time=format_time(T0), value="1")
    batch = sqs_event([("bad", body("acme", [event], METERS)), *nine_good_messages()])
    assert failures(handler(batch, FakeContext())) == set()
    assert_nine_counted(tables)
    [item] = new_root().quarantine_log.list("acme", 10, None)[0]
    assert item["id"] == bad_id.encode("ascii", "backslashreplace").decode()


@pytest.mark.parametrize("text, says", [("1e-131", "range"), ("1" * 39, "significant digits"), ("1e126", "range")])
def test_a_value_dynamodb_cannot_store_is_quarantined(tables, handler, text, says):
    events = [e("huge", "bytes", text), e("ok", "bytes", "2")]
    batch = sqs_event([("bad", body("acme", events, METERS)), *nine_good_messages()])
    assert failures(handler(batch, FakeContext())) == set()
    assert_nine_counted(tables)
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") == 2
    [item] = new_root().quarantine_log.list("acme", 10, None)[0]
    assert item["id"] == "huge" and says in item["reason"]


def test_a_poison_message_fails_alone_on_the_first_delivery(tables, handler):
    batch = sqs_event([("poison", '{"v": 1, "tenant": "acme", "events": [}'), *nine_good_messages()])
    assert failures(handler(batch, FakeContext())) == {"poison"}
    assert_nine_counted(tables)


def test_a_message_with_an_invalid_tenant_id_is_poison(tables, handler):
    batch = sqs_event([("poison", body("ac\udfffme", [e("x", "calls", "1")], METERS)), *nine_good_messages()])
    assert failures(handler(batch, FakeContext())) == {"poison"}
    assert_nine_counted(tables)


class _Refusing:
    """A DynamoDB client that refuses (ValidationException) any request touching ``marker``."""

    def __init__(self, real: Any, operation: str, marker: str):
        self.real, self.operation, self.marker = real, operation, marker
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.real, name)
        if name != self.operation:
            return call

        def guarded(**kwargs: Any) -> Any:
            if self.marker in repr(kwargs):
                self.refused += 1
                raise ClientError({"Error": {"Code": "ValidationException", "Message": "refused"}}, name)
            return call(**kwargs)

        return guarded


@pytest.mark.parametrize("operation, marker", [("batch_write_item", "L#acme#"), ("transact_write_items", "T#acme#")])
def test_a_write_refused_for_one_message_fails_that_message_only(tables, operation, marker):
    refusing = _Refusing(tables, operation, marker)
    handler = consumer_handler()
    root = root_of(handler)
    root.dynamodb = refusing  # before any adapter of this environment is built: they all use it
    batch = sqs_event([("bad", body("acme", [e("x", "calls", "1")], METERS)), *nine_good_messages()])
    assert failures(handler(batch, FakeContext())) == {"bad"}
    assert refusing.refused >= 2  # the shared request, then the message alone
    assert_nine_counted(tables)
    assert value(tables, "T#acme#calls#lifetime", "lifetime") is None
    root.ledger.client = root.quarantine_log.client = tables  # the fault is gone: the redelivery counts it once
    assert failures(handler(sqs_event([("bad", body("acme", [e("x", "calls", "1")], METERS))]), FakeContext())) == set()
    assert value(tables, "T#acme#calls#lifetime", "lifetime") == 1
