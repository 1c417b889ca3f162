"""Fault injection: whichever AWS call fails, and however, redelivery ends with exact counters.

For every k, the k-th DynamoDB call the consumer makes fails: before it is sent (connection
error, throttling, or the Lambda dying), or after DynamoDB applied it (the response is lost,
or the Lambda dies). SQS then redelivers what was not acknowledged - the failed records, or
the whole batch when the invocation died - until everything is acknowledged. The batch holds
duplicates within a message and across messages. Then: two consumers at once on overlapping
messages with 50% duplicates, against the moto server (in-process moto is not atomic under
threads).
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from tests.conftest import FakeContext
from tollgate.adapters import ledger
from tollgate.adapters.event_reader import EventReader
from tollgate.adapters.quarantine import QuarantineStore
from tollgate.config import Settings
from tollgate.domain.meters import Aggregation, MeterSpec
from tollgate.domain.times import format_time
from tollgate.domain.usage import UsageEvent, UsageMessage
from tollgate.services import count_usage
from tollgate.services.clock import SystemClock

from .test_consumer import (
    body,
    consumer_handler,
    counter_state,
    create_tables,
    delete_tables,
    expected_state,
    failures,
    logged_events,
    root_of,
    sqs_event,
)

pytestmark = pytest.mark.long(120)  # ~120 s in CI: make test starts it first (tests/conftest.py)

T0 = datetime(2026, 3, 29, 0, 58, tzinfo=UTC)  # Paris changes to summer time at 01:00 UTC

METERS = {
    "calls": MeterSpec("calls", Aggregation.COUNT, group_by=("region",)),
    "bytes": MeterSpec("bytes", Aggregation.SUM),
    "peak": MeterSpec("peak", Aggregation.MAX),
    "temp": MeterSpec("temp", Aggregation.LATEST),
    "users": MeterSpec("users", Aggregation.UNIQUE_COUNT, group_by=("region",)),
}


def ev(id_: str, meter: str, value: str, minutes: float, **dims: str) -> UsageEvent:
    return UsageEvent(id_, meter, format_time(T0 + timedelta(minutes=minutes)), value, dims=dims, data={"v": value})


A = ev("a", "calls", "1", 0, region="eu")
B = ev("b", "bytes", "10.5", 1)
C = ev("c", "peak", "7", 2.5)
D = ev("d", "temp", "20", 3)
E = ev("e", "users", "alice", 1.5)
F = ev("f", "temp", "18", 1)  # older reading, arrives later
G = ev("g", "bytes", "2", 4)
# unique_count values repeated across messages and days: alice on two days (and in two
# regions), bob from two messages on one day.
H = ev("h", "users", "alice", 1440, region="eu")  # the next day
K = ev("k", "users", "alice", 3, region="us")  # alice's day again, another event and message
L = ev("l", "users", "bob", 2)
N = ev("n", "users", "bob", 5, region="eu")

# m1 repeats an event within itself; m2 and m3 repeat events of m1 and of each other.
BATCH = [
    ("msg-1", UsageMessage("acme", "Europe/Paris", METERS, [A, B, A, C, H, K])),
    ("msg-2", UsageMessage("acme", "Europe/Paris", METERS, [B, D, E, L])),
    ("msg-3", UsageMessage("acme", "Europe/Paris", METERS, [E, F, G, C, N, H])),
]
DISTINCT = sorted(("acme", x.id) for x in (A, B, C, D, E, F, G, H, K, L, N))


class Crash(BaseException):
    """The Lambda dies (timeout, out of memory): nothing more runs, the whole batch returns."""


class Faults:
    """Counts the consumer's DynamoDB calls and breaks the k-th one, once."""

    def __init__(self, k: int = 0, mode: str = "none"):
        self.k, self.mode, self.calls, self.fired = k, mode, 0, False

    def before(self, model: Any, **_: Any) -> None:
        self.calls += 1
        if self.calls != self.k or self.fired:
            return
        if self.mode == "connection":
            self.fired = True
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        if self.mode == "throttle":
            self.fired = True
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, model.name)
        if self.mode == "crash":
            self.fired = True
            raise Crash(f"died before call {self.k}")

    def after(self, model: Any, **_: Any) -> None:
        if self.calls != self.k or self.fired:
            return
        if self.mode == "lost":  # DynamoDB applied it; the client never hears back
            self.fired = True
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        if self.mode == "crash-after":
            self.fired = True
            raise Crash(f"died after call {self.k}")

    def attach(self, client: Any, service: str = "dynamodb") -> Callable[[], None]:
        client.meta.events.register(f"before-call.{service}", self.before)
        client.meta.events.register(f"after-call.{service}", self.after)

        def detach() -> None:
            client.meta.events.unregister(f"before-call.{service}", self.before)
            client.meta.events.unregister(f"after-call.{service}", self.after)

        return detach


def deliver_until_acknowledged(handler: Callable, messages: list[tuple[str, str]], rounds: int = 8) -> int:
    """SQS: redeliver failed records, or every record when the invocation failed."""
    pending = list(messages)
    for n in range(rounds):
        if not pending:
            return n
        try:
            failed = failures(handler(sqs_event(pending), FakeContext()))
        except (Crash, BatchProcessingError):
            failed = {m for m, _ in pending}
        pending = [(m, b) for m, b in pending if m in failed]
    raise AssertionError(f"still failing after {rounds} deliveries: {pending}")


@pytest.fixture
def moto_dynamodb(monkeypatch) -> Iterator[Any]:
    monkeypatch.setattr(ledger, "MAX_WORKERS", 1)  # one call at a time: "the k-th call" is well defined
    monkeypatch.setattr(count_usage, "WAVE_EVENTS", 4)  # several waves per batch
    monkeypatch.setattr(ledger, "backoff", lambda attempt: None)
    monkeypatch.setattr(count_usage, "backoff", lambda attempt: None)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        names = create_tables(client)
        for env_name, name in names.items():
            monkeypatch.setenv(env_name, name)
        yield client, names


@pytest.fixture
def handler(moto_dynamodb):
    """The consumer's handler in an execution environment of its own (built after the patches
    above: its ledger makes one call at a time)."""
    return consumer_handler()


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # a crash before any metric
def test_every_failed_call_ends_in_exact_counters(moto_dynamodb, handler):
    client, names = moto_dynamodb
    messages = [(mid, body(m.tenant, m.events, m.meters, m.timezone)) for mid, m in BATCH]
    want = expected_state([m for _, m in BATCH])
    consumer = root_of(handler).dynamodb  # every DynamoDB call of the consumer's environment

    def fresh_tables() -> None:
        delete_tables(client, names)
        create_tables(client)

    # A clean run: how many calls the first delivery makes, and the exact answer.
    clean = Faults()
    detach = clean.attach(consumer)
    assert deliver_until_acknowledged(handler, messages) == 1
    detach()
    assert counter_state(client) == want
    assert logged_events(client) == DISTINCT
    unique = {k: v[0] for k, v in want.items() if k[0].startswith(("T#acme#users#", "G#acme#users#"))}
    assert unique[("T#acme#users#lifetime", "lifetime")] == 2  # alice, bob
    assert unique[("G#acme#users#lifetime#region", "lifetime#eu")] == 2
    assert unique[("T#acme#users#day", "2026-03-28T23:00:00Z")] == 2  # alice twice, bob twice: 2
    assert len(unique) == 11  # total and eu: 2 days, month, lifetime; us: 1 day, month, lifetime
    total_calls = clean.calls
    assert total_calls > 10

    runs = 0
    for mode in ("connection", "throttle", "lost", "crash", "crash-after"):
        for k in range(1, total_calls + 1):
            fresh_tables()
            faults = Faults(k, mode)
            detach = faults.attach(consumer)
            try:
                deliver_until_acknowledged(handler, messages)
            finally:
                detach()
            assert faults.fired, (mode, k)
            assert counter_state(client) == want, (mode, k)
            assert logged_events(client) == DISTINCT, (mode, k)
            runs += 1
        # A late duplicate of the whole batch after the last run changes nothing.
        deliver_until_acknowledged(handler, messages)
        assert counter_state(client) == want and logged_events(client) == DISTINCT
    assert runs == 5 * total_calls


# ------------------------------------------------------------------ concurrency (moto server)
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_clients(monkeypatch) -> Iterator[Callable[[], Any]]:
    """Clients of a serialized moto server: plain moto rolls a cancelled transaction back by
    restoring a copy of the table taken when it began, undoing other requests' writes, which
    lost counts here now and then (tollgate_dev/local/moto_server.py)."""
    from tollgate_dev.local.moto_server import AtomicMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    port = free_port()
    server = AtomicMotoServer(port=port)
    server.start()

    def make_client() -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, max_pool_connections=32),
        )

    try:
        for env_name, name in create_tables(make_client()).items():
            monkeypatch.setenv(env_name, name)
        yield make_client
    finally:
        server.stop()


def list_all(reader: EventReader, tenant: str) -> list[dict[str, Any]]:
    """Every raw event of ``tenant`` within a day of T0, page after page."""
    listed, cursor = [], None
    while True:
        page, cursor = reader.list_events(tenant, T0 - timedelta(days=1), T0 + timedelta(days=1), 50, cursor)
        listed += page
        if cursor is None:
            return listed


def half_duplicate_messages(tenants: tuple[str, str]) -> list[tuple[str, UsageMessage]]:
    rng = random.Random(5118)
    pool = []
    for i in range(240):
        meter = rng.choice(sorted(METERS))
        value = f"user-{rng.randrange(40)}" if meter == "users" else str(rng.randrange(1, 500) / 4)
        pool.append(ev(f"ev-{i:04d}", meter, value, rng.randrange(0, 180), region=rng.choice(("eu", "us", "ap"))))
    messages: list[tuple[str, UsageMessage]] = []
    for m in range(40):
        tenant = tenants[m % 2]
        # 240 event slots per tenant drawn from its 120 events: more than half repeat one.
        mine = pool[:120] if tenant == tenants[0] else pool[120:]
        events = [mine[rng.randrange(len(mine))] for _ in range(12)]
        messages.append((f"msg-{m:03d}", UsageMessage(tenant, "Europe/Paris", METERS, events)))
    return messages


@pytest.mark.server
def test_two_consumers_at_once_with_half_duplicates_count_exactly(moto_clients):
    tenants = ("acme", "beta")
    messages = half_duplicate_messages(tenants)
    encoded = {mid: body(m.tenant, m.events, m.meters, m.timezone) for mid, m in messages}
    ids = [mid for mid, _ in messages]
    # Consumer 1 gets messages 0-29, consumer 2 gets 10-39 in another order: messages 10-29
    # are delivered to both at the same time (SQS at-least-once), and everything else overlaps
    # by event id.
    plans = [ids[:30], list(reversed(ids[10:]))]
    settings = Settings.from_env()
    tables = {"events_table": settings.events_table, "counters_table": settings.counters_table}
    barrier = threading.Barrier(len(plans))
    errors: list[BaseException] = []

    def consume(plan: list[str]) -> None:
        try:
            client = moto_clients()
            mine = count_usage.CountUsage(
                ledger.Ledger(client, **tables, max_workers=8), QuarantineStore(client, **tables), SystemClock()
            )
            barrier.wait()
            for i in range(0, len(plan), 5):
                pending = plan[i : i + 5]
                for _ in range(10):
                    if not pending:
                        break
                    outcome = mine.count_batch(sqs_event([(m, encoded[m]) for m in pending]))
                    pending = [m for m in pending if m in outcome.failed]
                assert not pending, pending
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(plan,)) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    client = moto_clients()
    assert counter_state(client) == expected_state([m for _, m in messages])
    distinct = sorted({(m.tenant, e.id) for _, m in messages for e in m.events})
    assert len(distinct) <= sum(len(m.events) for _, m in messages) * 0.5  # at least 50% duplicates
    assert logged_events(client) == distinct
    reader = EventReader(client, events_table=settings.events_table)
    for tenant in tenants:
        listed = list_all(reader, tenant)
        assert sorted(x["id"] for x in listed) == sorted(i for t, i in distinct if t == tenant)
        assert [(x["time"], x["id"]) for x in listed] == sorted(((x["time"], x["id"]) for x in listed), reverse=True)
