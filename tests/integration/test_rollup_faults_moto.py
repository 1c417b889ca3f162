"""The roll-up job on moto under faults: each DynamoDB call of a run (the activity index, the
counters, the catalog, the roll-up table) fails in turn, the run is retried as the scheduler
would, and the roll-ups table must then hold exactly what a run that never failed writes. One
moto world for the module; each case starts from an empty roll-ups table over the same counters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from tests.conftest import moto_stack
from tollgate.adapters.models import ALL_MODELS
from tollgate.domain import periods
from tollgate.domain import storage_keys as keys
from tollgate.domain.meters import Aggregation
from tollgate.domain.periods import Window

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
USAGE = [  # (tenant, UTC instant, value)
    ("acme", datetime(2026, 11, 20, 9, tzinfo=UTC), 5),
    ("acme", datetime(2026, 10, 31, 23, tzinfo=UTC), 2),
    ("kiri", datetime(2026, 11, 19, 11, tzinfo=UTC), 7),
]


class _Clock:
    def now(self) -> datetime:
        return NOW


class Faults:
    def __init__(self) -> None:
        self.calls = 0
        self.fail_at: int | None = None

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise EndpointConnectionError(endpoint_url=f"https://dynamodb/{model.name}")


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    from tollgate.services.rollup_job import RollupJob
    from tollgate.wiring import Root

    with moto_stack():
        root = Root(clock=_Clock())
        root.plans.put_plan("gold", "Gold", [], None, actor="test", reason="test")
        root.meters.create_meter({"key": "api_calls", "name": "API calls", "aggregation": Aggregation.SUM})
        root.tenants.create_tenant({"id": "acme", "name": "Acme", "plan": "gold"}, actor="test")
        root.tenants.create_tenant({"id": "kiri", "name": "Kiri", "timezone": "Pacific/Kiritimati"}, actor="test")
        for tenant, at, value in USAGE:
            tz = periods.zone("Pacific/Kiritimati" if tenant == "kiri" else "UTC")
            for window in (Window.HOUR, Window.DAY):
                start = periods.window_start(at, window, tz)
                item = {"pk": {"S": keys.total_pk(tenant, "api_calls", window)}, "sk": {"S": periods.utc_key(start)}}
                root.dynamodb.put_item(TableName=root.settings.counters_table, Item={**item, "v": {"N": str(value)}})
        root.activity_index.mark(NOW, [("acme", "api_calls"), ("kiri", "api_calls")])
        faults = Faults()
        clients = [root.dynamodb, *(m._get_connection().connection.client for m in ALL_MODELS)]
        for client in {id(c): c for c in clients}.values():
            client.meta.events.register("before-call.dynamodb", faults)
        job = RollupJob(
            root.activity_index, root.catalog, root.counter_reader, root.rollup_store, root.clock, root.operator_zone,
            workers=1,
        )  # fmt: skip
        yield {"root": root, "job": job, "faults": faults}


def _empty(root: Any) -> None:
    table = root.settings.rollups_table
    for item in root.dynamodb.scan(TableName=table)["Items"]:
        root.dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    for tenant in ("acme", "kiri"):  # each run reads its catalog entries again, so their reads fail too
        root.catalog.invalidate_tenant(tenant)
    root.catalog.invalidate_meter("api_calls")


def _table(root: Any) -> dict[tuple[str, str], dict[str, Any]]:
    items = root.dynamodb.scan(TableName=root.settings.rollups_table)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in items}


def _clean(world: dict[str, Any]) -> tuple[int, dict[tuple[str, str], dict[str, Any]]]:
    root, faults = world["root"], world["faults"]
    _empty(root)
    faults.fail_at, before = None, faults.calls
    world["job"].run()
    return faults.calls - before, _table(root)


def test_a_clean_run_rolls_up_every_pair(world):
    calls, table = _clean(world)
    assert calls > 15
    assert table[("S#api_calls", "2026-11-20")]["v"]["N"] == "5"
    assert table[("S#api_calls", "2026-11-19")]["v"]["N"] == "7"  # Kiritimati's 20th, 01:00 local
    assert table[("M#api_calls#2026-10", "acme")]["rank"]["N"] == "2"
    assert table[("P#api_calls", "2026-11-20#gold")]["v"]["N"] == "5"


def test_a_run_failing_at_any_dynamodb_call_then_retried_equals_a_clean_run(world):
    calls, clean = _clean(world)
    root, faults = world["root"], world["faults"]
    for n in range(1, calls + 1):
        _empty(root)
        faults.fail_at = faults.calls + n
        try:
            failed = world["job"].run().errors > 0
        except EndpointConnectionError:
            failed = True
        faults.fail_at = None
        assert failed, f"call {n}: the fault must surface (the handler raises, the scheduler retries)"
        world["job"].run()
        assert _table(root) == clean, f"call {n} failed, then the retry left other roll-ups"
