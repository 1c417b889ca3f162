"""The roll-up job under faults: each call it makes to the roll-up store and the counters fails
in turn (nothing written by the failed call), the run is retried as the scheduler would retry
it, and the roll-ups must equal those of a run that never failed. Then: a run repeated (a
redelivery) changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.rollups import FakeRollupStore
from tollgate.domain.meters import Aggregation

from .conftest import add_meter, add_plan, add_tenant
from .rollup_world import RollupWorld

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


class Faults:
    """Counts the calls made through ``wrap``ped objects and fails the ``fail_at``-th."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_at: int | None = None

    def wrap(self, target: Any) -> Any:
        faults = self

        class Proxy:
            def __getattr__(self, name: str) -> Any:
                method = getattr(target, name)

                def call(*args: Any, **kwargs: Any) -> Any:
                    faults.calls += 1
                    if faults.calls == faults.fail_at:
                        raise ConnectionError(f"call {faults.calls} ({name}) failed")
                    return method(*args, **kwargs)

                return call

        return Proxy()


def world(faults: Faults) -> RollupWorld:
    store = FakeRollupStore()
    rw = RollupWorld(store=faults.wrap(store))
    rw.job._reader = faults.wrap(rw.w.stores.counter_reader)  # the counters, behind the same faults
    rw.store = store
    rw.w.clock.at = NOW
    add_plan(rw.w, "gold", [])
    add_plan(rw.w, "free", [])
    add_meter(rw.w, "api_calls", Aggregation.SUM)
    add_meter(rw.w, "bytes", Aggregation.SUM)
    add_tenant(rw.w, "acme", plan="gold")
    add_tenant(rw.w, "bolt", plan="free")
    add_tenant(rw.w, "kiri", plan="free", timezone="Pacific/Kiritimati")
    rw.count("acme", "api_calls", datetime(2026, 11, 19, 23, tzinfo=UTC), 10)
    rw.count("bolt", "api_calls", datetime(2026, 10, 31, 23, tzinfo=UTC), 3)
    rw.count("kiri", "bytes", datetime(2026, 11, 20, 9, tzinfo=UTC), 7)
    rw.job.run()
    # the run under test: new usage, late usage for an earlier month, a plan change
    rw.w.clock.advance(minutes=10)
    rw.w.tenants.update_tenant("bolt", {"plan": "gold"}, actor="key_admin", reason="upgrade")
    rw.count("acme", "api_calls", datetime(2026, 11, 20, 10, tzinfo=UTC), 5)
    rw.count("bolt", "api_calls", datetime(2026, 10, 30, 4, tzinfo=UTC), 2)
    rw.count("kiri", "api_calls", datetime(2026, 11, 20, 9, 59, tzinfo=UTC), 1)
    return rw


def calls_of_a_clean_run() -> tuple[int, dict[str, Any]]:
    faults = Faults()
    rw = world(faults)
    before = faults.calls
    rw.job.run()
    return faults.calls - before, rw.state()


CALLS, CLEAN = calls_of_a_clean_run()


def test_the_run_under_test_makes_enough_calls_to_matter():
    assert CALLS >= 20
    assert CLEAN["months"][("api_calls", datetime(2026, 10, 1).date())]["bolt"][0] == 5


@pytest.mark.parametrize("n", range(1, CALLS + 1))
def test_a_run_failing_at_any_call_then_retried_converges_to_the_clean_run(n):
    faults = Faults()
    rw = world(faults)
    faults.fail_at = faults.calls + n
    try:
        report = rw.job.run()
        failed = report.errors > 0
    except ConnectionError:
        failed = True
    assert failed, "the injected fault must surface: the handler raises and the scheduler retries"
    rw.job.run()  # the retry, in the same lookback hours
    assert rw.state() == CLEAN


def test_a_run_repeated_writes_the_same_values():
    faults = Faults()
    rw = world(faults)
    rw.job.run()
    again = rw.job.run()
    assert rw.state() == CLEAN and again.rolled == 0 and again.unchanged == 4


def test_two_runs_at_once_leave_what_the_next_run_makes_exact():
    """Run A reads the hours, then run B counts newer usage and finishes, then A writes its
    older values and its older "seen" last: the next run sees the counters ahead of "seen"
    and redoes the pair, so the roll-ups end as a lone run's."""
    faults = Faults()
    rw = world(faults)
    inner = rw.w.stores.counter_reader
    raced = []

    class Racing:
        def totals(self, pk: str, low: str, high: str) -> Any:
            result = inner.totals(pk, low, high)
            if pk.endswith("#hour") and not raced:
                raced.append(pk)
                rw.count("acme", "api_calls", datetime(2026, 11, 20, 10, 5, tzinfo=UTC), 100)
                rw.job.run()  # B, on the real reader
            return result

        def groups(self, pk: str, low: str, high: str) -> Any:
            return inner.groups(pk, low, high)

    racing = RollupWorld(store=rw.store)
    racing.job = type(rw.job)(
        rw.w.stores.activity_index, rw.w.catalog, Racing(), rw.store, rw.w.clock, rw.tz, workers=1
    )
    racing.job.run()  # A
    nov20 = datetime(2026, 11, 20).date()
    assert raced and rw.store.days[("api_calls", nov20)]["acme"][0] == 5  # A's older value, written last
    rw.w.clock.advance(minutes=10)
    rw.job.run()  # the next run
    assert rw.store.days[("api_calls", nov20)]["acme"][0] == 105
    lone = Faults()
    clean = world(lone)
    clean.count("acme", "api_calls", datetime(2026, 11, 20, 10, 5, tzinfo=UTC), 100)
    clean.job.run()
    assert rw.state()["days"] == clean.state()["days"] and rw.state()["series"] == clean.state()["series"]
    assert rw.state()["months"] == clean.state()["months"] and rw.state()["seen"] == clean.state()["seen"]
