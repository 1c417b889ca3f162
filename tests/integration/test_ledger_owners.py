"""``Ledger.owners`` on moto: the owners of claimed events, in requests of 100 keys."""

from __future__ import annotations

from tests.fakes.clock import T0
from tollgate.domain.counting import EventRef

from .test_consumer import consumer_handler, root_of, tables  # noqa: F401 - the fixture


def test_owners_reads_every_claimed_event_and_only_those(tables):
    ledger = root_of(consumer_handler()).ledger
    refs = [EventRef("acme" if i % 2 else "beta", f"e{i}") for i in range(250)]
    claimed = refs[:180]
    results = ledger.claim([(r, f"m{i % 3}", (f"m{i % 3}",)) for i, r in enumerate(claimed)], T0)
    assert results == [f"m{i % 3}" for i in range(180)]
    calls: list[int] = []
    ledger.client.meta.events.register(
        "before-parameter-build.dynamodb.BatchGetItem",
        lambda params, **_: calls.append(len(next(iter(params["RequestItems"].values()))["Keys"])),
    )
    assert ledger.owners(refs) == {r: f"m{i % 3}" for i, r in enumerate(claimed)}
    assert sorted(calls) == [50, 100, 100]
