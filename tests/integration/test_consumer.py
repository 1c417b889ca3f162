"""The consumer handler (functions/consumer/app.py) against moto, fed real SQS event shapes
(tests/events/sqs_usage_batch.json). Tables come from template.yaml."""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from tests.conftest import FakeContext, new_root
from tollgate.adapters import event_log, ledger
from tollgate.domain import counting
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.periods import Window, zone
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.wire.usage_message import encode
from tollgate_dev.cost import DynamoCost
from tollgate_dev.local.resources import table_request
from tollgate_dev.local.template import default_template, import_handler, table_specs

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
TABLES = {"EventsTable": "EVENTS_TABLE", "CountersTable": "COUNTERS_TABLE"}


# ------------------------------------------------------------------ helpers (also used by the fault tests)


def create_tables(client: Any) -> dict[str, str]:
    """The events and counters tables exactly as template.yaml declares them."""
    names = {}
    for logical_id, env_name in TABLES.items():
        spec = table_specs()[logical_id]
        client.create_table(**table_request(spec))
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=spec.name, TimeToLiveSpecification={"AttributeName": spec.ttl_attribute, "Enabled": True}
            )
        names[env_name] = spec.name
    return names


def delete_tables(client: Any, names: dict[str, str]) -> None:
    for name in names.values():
        client.delete_table(TableName=name)


@pytest.fixture
def tables(monkeypatch) -> Iterator[Any]:
    """moto in-process with the two tables."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for env_name, name in create_tables(client).items():
            monkeypatch.setenv(env_name, name)
        yield client


def consumer_handler() -> Any:
    """A fresh import of the consumer's handler: a new execution environment, whose
    composition root (``root_of``) reads the current environment (this test's tables)."""
    return import_handler(default_template().functions()["ConsumerFunction"], fresh=True)


def root_of(handler: Any) -> Any:
    """The composition root of a handler's execution environment."""
    return inspect.unwrap(handler).__globals__["root"]


@pytest.fixture
def handler(tables):
    return consumer_handler()


def sqs_event(messages: list[tuple[str, str]]) -> dict[str, Any]:
    """An SQS event with one record per (message id, body), shaped like the sample."""
    sample = json.loads((EVENTS_DIR / "sqs_usage_batch.json").read_text())
    records = []
    for message_id, body in messages:
        record = copy.deepcopy(sample["Records"][0])
        record["messageId"] = message_id
        record["receiptHandle"] = f"AQEB{hashlib.sha1(message_id.encode()).hexdigest()}"
        record["body"] = body
        record["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()
        records.append(record)
    return {"Records": records}


def body(tenant: str, events: list[UsageEvent], meters: dict[str, MeterSpec], tz: str = "Europe/Paris") -> str:
    return encode(UsageMessage(tenant, tz, meters, events))


def failures(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def item(client: Any, pk: str, sk: str) -> dict[str, Any] | None:
    return client.get_item(TableName=os.environ["COUNTERS_TABLE"], Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")


def value(client: Any, pk: str, sk: str) -> Decimal | None:
    found = item(client, pk, sk)
    return Decimal(found["v"]["N"]) if found and "v" in found else None


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items, start = [], None
    while True:
        kwargs = {"TableName": table, **({"ExclusiveStartKey": start} if start else {})}
        resp = client.scan(**kwargs)
        items += resp["Items"]
        start = resp.get("LastEvaluatedKey")
        if not start:
            return items


def counter_state(client: Any) -> dict[tuple[str, str], tuple]:
    """Every counter item, normalised (numbers as Decimal)."""
    out = {}
    for it in scan(client, os.environ["COUNTERS_TABLE"]):
        assert set(it) <= {"pk", "sk", "v", "t", "expires_at"}, it  # no unique sets any more
        out[(it["pk"]["S"], it["sk"]["S"])] = (
            Decimal(it["v"]["N"]) if "v" in it else None,
            it.get("t", {}).get("S"),
            it.get("expires_at", {}).get("N"),
        )
    return out


def logged_events(client: Any) -> list[tuple[str, str]]:
    """(tenant, event id) of every event in the raw-event log, duplicates kept."""
    out = []
    for it in scan(client, os.environ["EVENTS_TABLE"]):
        if it["pk"]["S"].startswith("L#"):
            tenant = it["pk"]["S"].split("#")[1]
            out += [(tenant, e["id"]) for e in event_log.decompress_events(it["z"]["B"])]
    return sorted(out)


def expected_state(messages: list[UsageMessage]) -> dict[tuple[str, str], tuple]:
    """The naive answer: fold each distinct (tenant, event id) once, event by event. A
    unique_count item holds the number of distinct value texts of its events."""
    state: dict[tuple[str, str], list] = {}
    seen = set()
    for m in messages:
        for e in m.events:
            if (m.tenant, e.id) in seen:
                continue
            seen.add((m.tenant, e.id))
            meter = m.meters[e.meter]
            for t in counting.counter_targets(m.tenant, zone(m.timezone), meter, e):
                cell = state.setdefault((t.key.pk, t.key.sk), [None, None, set(), t.expires_at])
                agg = meter.aggregation
                if agg is Aggregation.COUNT:
                    cell[0] = (cell[0] or 0) + 1
                elif agg is Aggregation.SUM:
                    cell[0] = (cell[0] or 0) + Decimal(e.value)
                elif agg is Aggregation.MAX:
                    cell[0] = Decimal(e.value) if cell[0] is None else max(cell[0], Decimal(e.value))
                elif agg is Aggregation.LATEST:
                    tag = f"{e.time}#{e.id}"
                    if cell[1] is None or tag > cell[1]:
                        cell[0], cell[1] = Decimal(e.value), tag
                else:
                    cell[2].add(e.value)
                    cell[0] = Decimal(len(cell[2]))
    return {k: (v, t, None if exp is None else str(exp)) for k, (v, t, _, exp) in state.items()}


T0 = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)  # 06:00 in Paris

METERS = {
    "calls": MeterSpec("calls", Aggregation.COUNT, group_by=("region",)),
    "bytes": MeterSpec("bytes", Aggregation.SUM, group_by=("region", "plan")),
    "peak": MeterSpec("peak", Aggregation.MAX, group_by=("region",)),
    "temp": MeterSpec("temp", Aggregation.LATEST, group_by=("region",)),
    "users": MeterSpec("users", Aggregation.UNIQUE_COUNT, group_by=("region",)),
}


def e(id_: str, meter: str, value: str, seconds: float = 0, **dims: str) -> UsageEvent:
    return UsageEvent(
        id=id_,
        meter=meter,
        time=format_time(T0 + timedelta(seconds=seconds)),
        value=value,
        dims=dims,
        data={"value": value, **dims},
        source="tests",
    )


# ------------------------------------------------------------------ tests
def test_counts_the_sample_sqs_event(tables, handler):
    event = json.loads((EVENTS_DIR / "sqs_usage_batch.json").read_text())
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    # 1.5 (eu) + 2 (us) at 05:00Z, 0.5 (no region) at 05:01:30Z; Paris is UTC+1 in November.
    assert value(tables, "T#acme#api_calls#lifetime", "lifetime") == Decimal("4")
    assert value(tables, "T#acme#api_calls#month", "2026-10-31T23:00:00Z") == Decimal("4")
    assert value(tables, "T#acme#api_calls#day", "2026-11-19T23:00:00Z") == Decimal("4")
    assert value(tables, "T#acme#api_calls#hour", "2026-11-20T05:00:00Z") == Decimal("4")
    assert value(tables, "T#acme#api_calls#minute", "2026-11-20T05:00:00Z") == Decimal("3.5")
    assert value(tables, "T#acme#api_calls#minute", "2026-11-20T05:01:00Z") == Decimal("0.5")
    assert value(tables, "G#acme#api_calls#day#region", "2026-11-19T23:00:00Z#eu") == Decimal("1.5")
    assert value(tables, "G#acme#api_calls#day#region", "2026-11-19T23:00:00Z#us") == Decimal("2")
    minute = item(tables, "T#acme#api_calls#minute", "2026-11-20T05:01:00Z")
    assert int(minute["expires_at"]["N"]) == int(datetime(2026, 11, 23, 5, 1, tzinfo=UTC).timestamp())
    assert "expires_at" not in item(tables, "T#acme#api_calls#hour", "2026-11-20T05:00:00Z")
    assert logged_events(tables) == [("acme", "evt-0001"), ("acme", "evt-0002"), ("acme", "evt-0003")]


def test_exact_totals_for_every_aggregation_with_group_by(tables, handler):
    m1 = [
        e("c1", "calls", "1", 0, region="eu"),
        e("c2", "calls", "1", 1, region="us"),
        e("b1", "bytes", "100.5", 2, region="eu", plan="pro"),
        e("p1", "peak", "7", 3, region="eu"),
        e("t-new", "temp", "21.5", 50, region="eu"),  # the newest reading arrives first
        e("u1", "users", "alice", 4, region="eu"),
        e("u2", "users", "bob", 5, region="us"),
    ]
    m2 = [
        e("c3", "calls", "1", 6, region="eu"),
        e("b2", "bytes", "0.25", 7, region="eu"),  # no plan: not in the plan group
        e("p2", "peak", "12", 8, region="us"),
        e("p3", "peak", "3", 9, region="eu"),
        e("t-old", "temp", "19", 10, region="eu"),
        e("u3", "users", "alice", 11, region="us"),  # alice again, other region
    ]
    ids = ["m-1", "m-2"]
    out = handler(sqs_event([(ids[0], body("acme", m1, METERS)), (ids[1], body("acme", m2, METERS))]), FakeContext())
    assert out == {"batchItemFailures": []}
    life = "lifetime"
    assert value(tables, "T#acme#calls#lifetime", life) == 3
    assert value(tables, "G#acme#calls#lifetime#region", "lifetime#eu") == 2
    assert value(tables, "T#acme#bytes#lifetime", life) == Decimal("100.75")
    assert value(tables, "G#acme#bytes#lifetime#plan", "lifetime#pro") == Decimal("100.5")
    assert value(tables, "G#acme#bytes#lifetime#region", "lifetime#eu") == Decimal("100.75")
    assert value(tables, "T#acme#peak#lifetime", life) == 12
    assert value(tables, "G#acme#peak#lifetime#region", "lifetime#eu") == 7
    assert value(tables, "T#acme#temp#lifetime", life) == Decimal("21.5")
    assert item(tables, "T#acme#temp#lifetime", life)["t"]["S"] == f"{format_time(T0 + timedelta(seconds=50))}#t-new"
    assert value(tables, "T#acme#users#lifetime", life) == 2  # alice, bob
    assert value(tables, "G#acme#users#lifetime#region", "lifetime#us") == 2  # bob, alice
    assert value(tables, "G#acme#users#day#region", "2026-11-19T23:00:00Z#eu") == 1  # alice
    assert value(tables, "T#acme#users#month", "2026-10-31T23:00:00Z") == 2
    assert item(tables, "T#acme#users#hour", "2026-11-20T05:00:00Z") is None  # not counted by the hour
    assert counter_state(tables) == expected_state(
        [UsageMessage("acme", "Europe/Paris", METERS, m1), UsageMessage("acme", "Europe/Paris", METERS, m2)]
    )


def test_a_redelivered_message_counts_once(tables, handler):
    events = [e(f"r{i}", "bytes", "2", i, region="eu") for i in range(5)] + [
        e("rm", "peak", "5"),
        e("ru", "users", "x"),
    ]
    event = sqs_event([("m-redelivered", body("acme", events, METERS))])
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    before = counter_state(tables)
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert counter_state(tables) == before
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") == 10
    assert logged_events(tables) == sorted(("acme", x.id) for x in events)


def test_the_same_event_in_two_messages_counts_once(tables, handler):
    shared = e("dup", "bytes", "5", region="eu")
    first = sqs_event([("m-a", body("acme", [shared, e("only-a", "bytes", "1")], METERS))])
    second = sqs_event([("m-b", body("acme", [e("only-b", "bytes", "2"), shared], METERS))])
    assert handler(first, FakeContext()) == {"batchItemFailures": []}
    assert handler(second, FakeContext()) == {"batchItemFailures": []}
    # And both in one batch, plus a message repeating the event within itself.
    both = sqs_event(
        [
            ("m-c", body("acme", [shared, shared, e("only-c", "bytes", "3")], METERS)),
            ("m-d", body("acme", [shared], METERS)),
        ]
    )
    assert handler(both, FakeContext()) == {"batchItemFailures": []}
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") == 5 + 1 + 2 + 3
    assert value(tables, "G#acme#bytes#lifetime#region", "lifetime#eu") == 5
    # The same event id under another tenant is another event.
    assert handler(sqs_event([("m-e", body("beta", [shared], METERS))]), FakeContext()) == {"batchItemFailures": []}
    assert value(tables, "T#beta#bytes#lifetime", "lifetime") == 5
    assert [x for x in logged_events(tables) if x[1] == "dup"] == [("acme", "dup"), ("beta", "dup")]


def test_an_event_claimed_by_a_later_message_of_the_batch_is_still_counted(tables, handler, monkeypatch):
    """B claims the event, then fails before its commit. The next batch holds A (a client
    retry of the same event, first in the batch) and B's redelivery: the event is B's, and
    B must count it even though A's copy comes first."""
    shared = e("x", "bytes", "4")
    body_b = body("acme", [shared], METERS)
    real_commit = ledger.Ledger.commit

    def broken_commit(self, units, now):
        raise ConnectionError("network down")

    monkeypatch.setattr(ledger.Ledger, "commit", broken_commit)
    with pytest.raises(BatchProcessingError):  # every record failed: the invocation fails
        handler(sqs_event([("m-b", body_b)]), FakeContext())
    monkeypatch.setattr(ledger.Ledger, "commit", real_commit)
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") is None
    out = handler(sqs_event([("m-a", body("acme", [shared], METERS)), ("m-b", body_b)]), FakeContext())
    assert out == {"batchItemFailures": []}
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") == 4


def test_a_poison_message_fails_alone(tables, handler):
    good = body("acme", [e("g1", "bytes", "3")], METERS)
    bad_version = json.dumps({**json.loads(good), "v": 99})
    bad_zone = json.dumps({**json.loads(good), "tz": "Mars/Olympus"})
    bad_meter = json.dumps({**json.loads(good), "meters": {}})
    bad_number = json.dumps({**json.loads(good), "events": [{**json.loads(good)["events"][0], "value": "NaN"}]})
    event = sqs_event(
        [
            ("m-good", good),
            ("m-json", "{not json"),
            ("m-version", bad_version),
            ("m-zone", bad_zone),
            ("m-meter", bad_meter),
            ("m-nan", bad_number),
        ]
    )
    out = handler(event, FakeContext())
    assert failures(out) == {"m-json", "m-version", "m-zone", "m-meter", "m-nan"}
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") == 3


def test_a_message_repeated_within_one_batch_counts_once(tables, handler):
    b = body("acme", [e("s1", "bytes", "2"), e("s2", "calls", "1")], METERS)
    assert handler(sqs_event([("m-same", b), ("m-same", b)]), FakeContext()) == {"batchItemFailures": []}
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") == 2


def test_a_message_needing_more_than_one_transaction_commits_in_parts(tables, handler):
    events = [e(f"g{i}", "bytes", "1", i, region=f"r{i:02d}") for i in range(30)]  # 30 regions x 5 windows + 5 totals
    event = sqs_event([("m-big", body("acme", events, METERS))])
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert value(tables, "T#acme#bytes#lifetime", "lifetime") == 30
    assert all(value(tables, "G#acme#bytes#day#region", f"2026-11-19T23:00:00Z#r{i:02d}") == 1 for i in range(30))
    markers = sorted(it["pk"]["S"] for it in scan(tables, os.environ["EVENTS_TABLE"]) if it["pk"]["S"].startswith("M#"))
    assert markers == ["M#m-big#0", "M#m-big#1"]


def test_raw_events_list_newest_first_exactly_with_a_cursor(tables, handler):
    base = datetime(2026, 11, 18, 22, 0, tzinfo=UTC)
    made = []
    for m in range(6):  # six messages with interleaved times over three UTC days
        evs = [
            UsageEvent(
                f"ev{m}-{i}", "calls", format_time(base + timedelta(hours=7 * i + m, seconds=m)), "1", data={"n": i}
            )
            for i in range(8)
        ]
        made += evs
        assert handler(sqs_event([(f"m-log-{m}", body("acme", evs, METERS))]), FakeContext()) == {
            "batchItemFailures": []
        }
    start, end = base + timedelta(hours=3), base + timedelta(hours=40)
    want = sorted(
        (x for x in made if format_time(start) <= x.time < format_time(end)), key=lambda x: (x.time, x.id), reverse=True
    )
    reader = new_root().event_reader
    got, cursor, pages = [], None, 0
    while True:
        page, cursor = reader.list_events("acme", start, end, 4, cursor)
        assert len(page) <= 4
        got += page
        pages += 1
        if cursor is None:
            break
    assert [x["id"] for x in got] == [x.id for x in want]
    assert pages == -(-len(want) // 4)
    assert got[0] == {
        "specversion": "1.0",
        "id": want[0].id,
        "type": "calls",
        "source": "tollgate",
        "subject": "acme",
        "time": want[0].time,
        "data": want[0].data,
    }
    assert reader.list_events("beta", start, end, 10, None) == ([], None)
    _, cursor = reader.list_events("acme", start, end, 2, None)
    with pytest.raises(ValueError):
        reader.list_events("beta", start, end, 2, cursor)


def test_metrics_count_events_and_duplicates_without_tenant_dimensions(tables, handler, capsys):
    b = body("acme", [e("k1", "bytes", "1"), e("k1", "bytes", "1"), e("k2", "bytes", "1")], METERS)
    handler(sqs_event([("m-metrics", b)]), FakeContext())
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf, "no EMF metrics were written"
    last = emf[-1]
    assert last["EventsCounted"] == [2.0] and last["DuplicateEvents"] == [1.0]
    dimensions = {d for m in last["_aws"]["CloudWatchMetrics"] for ds in m["Dimensions"] for d in ds}
    assert "acme" not in json.dumps(last) and dimensions <= {"service"}


def test_the_client_is_lazy_and_follows_aws_endpoint_url(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    root = new_root()
    assert "dynamodb" not in vars(root)  # nothing is built before it is used
    client = root.ledger.client
    assert client is root.dynamodb
    assert client is root.quarantine_log.client  # one client per execution environment
    assert client.meta.endpoint_url == "http://127.0.0.1:5999"


def test_write_units_per_event_stay_within_budget(tables):
    """(c) of the bench, smaller: 1000 events per message, one sum meter (five counter
    keys), Paris. Budget: 1.2 write units per event."""
    root = new_root()
    meters = {"api_calls": MeterSpec("api_calls", Aggregation.SUM)}
    cost = DynamoCost().attach(root.dynamodb)
    messages = []
    for _m in range(2):
        evs = [
            UsageEvent(
                str(uuid.uuid4()),
                "api_calls",
                format_time(T0 + timedelta(milliseconds=37 * i)),
                "1",
                data={"value": 1, "route": "/v1/things", "status": 200},
                source="svc",
            )
            for i in range(1000)
        ]
        messages.append((str(uuid.uuid4()), body("hot", evs, meters)))
    assert not root.count_usage.count_messages(messages).failed
    per_event = cost.write_units / 2000
    print(f"\nwrite units/event {per_event:.3f}, requests/event {cost.total_requests / 2000:.4f}, {cost.summary()}")
    assert per_event <= 1.2
    assert value(tables, "T#hot#api_calls#lifetime", "lifetime") == 2000
    naive = 2 * (1 + len(list(Window)))  # a transaction per event: marker + five counters, x2
    assert per_event < naive / 10
