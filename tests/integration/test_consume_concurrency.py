"""Hard limits and idempotency under real concurrency: the limits function's handler (one
import per thread, as Lambda runs one request per execution environment) against moto in
server mode, over HTTP, with retries off.

moto's DynamoDB backend applies a TransactWriteItems item by item and rolls a cancelled one
back by restoring a copy of the whole table taken when it began (moto/dynamodb/models/
__init__.py, ``transact_write_items``), so under concurrent requests a cancellation can undo
another request's committed write. DynamoDB isolates transactions (serializably, per item).
``AtomicMotoServer`` (tollgate_dev/local/moto_server.py, which the local stack runs too) gives
moto that property the simplest way - one request at a time - while the requests themselves
still interleave arbitrarily (each decision is a read, then a conditional transaction, from
16 threads).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import ROOT, new_root
from tests.integration.routing import RoutedApi

pytestmark = [pytest.mark.server, pytest.mark.long(95)]  # ~95 s in CI: make test starts it first (tests/conftest.py)


@pytest.fixture(scope="module")
def server(moto_server: str) -> str:
    return moto_server


@pytest.fixture(scope="module")
def stack(server) -> Iterator[Any]:
    from tollgate_dev.local.template import Template, merged_environment

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ENDPOINT_URL", server)
    patch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        template = Template.load(ROOT / "template.yaml", endpoint_url=server)
        for name, value in merged_environment(template.functions()).items():
            patch.setenv(name, value)
        yield template  # every root built from here on (one per test or client) reads this environment
    finally:
        patch.undo()


@pytest.fixture
def world(server, stack) -> dict[str, Any]:
    """Fresh resources for each test (moto's reset API, then the template's resources again):
    the tables stay small, and moto copies whole tables for every transaction."""
    import boto3
    import requests

    from tollgate.domain.keys import Scope
    from tollgate_dev.local.resources import create_all

    requests.post(f"{server}/moto-api/reset", timeout=10).raise_for_status()
    create_all(stack, boto3.Session())
    keys = new_root().keys  # a root (and clients) of this test's own
    api = RoutedApi()
    admin = keys.create_key(Scope.ADMIN, name="concurrency")[1]
    plan = {
        "name": "Hard 500",
        "limits": [{"meter": "calls", "window": "month", "limit": 500}],
        "api_rate_limit": {"per_second": 100000, "burst": 100000},
    }
    assert api.call("PUT", "/v1/plans/hard500", key=admin, body=plan).status == 200
    assert (
        api.call("POST", "/v1/meters", key=admin, body={"key": "calls", "name": "c", "aggregation": "count"}).status
        == 201
    )
    for tenant in ("t1", "t2", "t3", "other1", "other2"):
        body = {"id": tenant, "name": tenant, "timezone": "Europe/Paris"}
        if not tenant.startswith("other"):
            body["plan"] = "hard500"
        assert api.call("POST", "/v1/tenants", key=admin, body=body).status == 201
    return {"admin": admin, "keys": {t: keys.create_key(Scope.TENANT, tenant_id=t)[1] for t in ("t1", "t2", "t3")}}


def _apis(n: int) -> list[RoutedApi]:
    """``n`` clients, each with execution environments of its own (one per thread), the limits
    function imported up front rather than concurrently by the threads."""
    apis = [RoutedApi() for _ in range(n)]
    for api in apis:
        api.handler_for("LimitsFunction")
    return apis


def _hammer(world: dict, tenant: str, threads: int = 16, calls: int = 50) -> list[Any]:
    apis = _apis(threads)
    key = world["keys"][tenant]

    def worker(i: int) -> list[Any]:
        return [
            apis[i].call("POST", "/v1/consume", key=key, body={"id": f"{tenant}-{i}-{j}", "meter": "calls"})
            for j in range(calls)
        ]

    with ThreadPoolExecutor(threads) as pool:
        return [r for rs in pool.map(worker, range(threads)) for r in rs]


def _used(world: dict, tenant: str) -> Any:
    r = RoutedApi().call("GET", "/v1/quotas", key=world["admin"], query={"tenant": tenant})
    return r.body["quotas"][0]["used"]


def test_a_hard_limit_of_500_admits_exactly_500_under_16_threads(world):
    replies = _hammer(world, "t1")
    statuses = Counter(r.status for r in replies)
    assert statuses == {200: 500, 429: 300}, statuses
    assert all(r.body["reason"] == "quota_exceeded" for r in replies if r.status == 429)
    assert _used(world, "t1") == 500


def test_the_same_holds_with_event_traffic_for_other_tenants(world):
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.services import clock
    from tollgate.wire.usage_message import encode

    at = format_time(clock.now())
    counter = new_root().count_usage  # the consumer's environment, shared by the 4 threads

    def events(tenant: str, batch: int) -> int:
        message = UsageMessage(
            tenant=tenant,
            timezone="Europe/Paris",
            meters={"calls": MeterSpec("calls", Aggregation.COUNT)},
            events=[UsageEvent(id=f"{tenant}-{batch}-{k}", meter="calls", time=at, value="1") for k in range(20)],
        )
        return counter.count_messages([(f"msg-{tenant}-{batch}", encode(message))]).counted

    with ThreadPoolExecutor(4) as pool:
        background = [pool.submit(events, f"other{1 + b % 2}", b) for b in range(10)]
        replies = _hammer(world, "t2")
        counted = sum(f.result() for f in background)
    assert Counter(r.status for r in replies) == {200: 500, 429: 300}
    assert _used(world, "t2") == 500
    assert counted == 200
    assert [_used_events(world, t) for t in ("other1", "other2")] == [100, 100]


def _used_events(world: dict, tenant: str) -> Any:
    from datetime import timedelta

    from tollgate.services import clock

    now = clock.now()
    r = RoutedApi().call(
        "GET",
        "/v1/usage",
        key=world["admin"],
        query={
            "tenant": tenant,
            "meter": "calls",
            "window": "day",
            "from": (now - timedelta(days=1)).isoformat(),
            "to": (now + timedelta(days=1)).isoformat(),
        },
    )
    assert r.status == 200, r.body
    return r.body["total"]


def test_the_same_id_from_8_threads_counts_once_with_one_decision(world):
    key = world["keys"]["t3"]
    apis = _apis(8)
    barrier = threading.Barrier(8)

    def once(i: int) -> Any:
        barrier.wait()
        return apis[i].call("POST", "/v1/consume", key=key, body={"id": "same", "meter": "calls", "amount": 3})

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(once, range(8)))
    assert {r.status for r in replies} == {200}
    decisions = {(r.body["allowed"], r.body["reason"], str(r.body["limits"])) for r in replies}
    assert len(decisions) == 1, decisions
    assert sorted(r.body["replayed"] for r in replies) == [False] + [True] * 7
    assert _used(world, "t3") == 3
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1")
