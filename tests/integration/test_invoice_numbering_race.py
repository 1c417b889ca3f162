"""Finalizes racing for numbers, against moto in server mode (transactions isolated as
DynamoDB isolates them): 20 execution environments each finalize one of 20 drafts at once,
and the numbers are exactly TG-000001 to TG-000020, one each, with one invoice.ready each;
8 environments finalizing the same draft take one number."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.conftest import template_on

pytestmark = pytest.mark.server
NOW = datetime(2026, 12, 5, tzinfo=UTC)


class _Clock:
    def now(self) -> datetime:
        return NOW


def _root() -> Any:
    from tollgate.wiring import Root

    return Root(clock=_Clock())


@pytest.fixture
def world(moto_server: str) -> Iterator[Any]:
    with template_on(moto_server):
        root = _root()
        root.plans.put_plan("pro", "Pro", [], None, actor="t", base_fee=Decimal(10))
        for i in range(20):
            root.tenants.create_tenant({"id": f"t{i:02d}", "name": f"T{i}", "plan": "pro"}, actor="t")
            assert root.invoices.bill(f"t{i:02d}", "2026-11") == "invoiced"
        yield root


def _race(n: int, work: Any) -> list[Any]:
    roots = [_root() for _ in range(n)]  # one execution environment each
    barrier = threading.Barrier(n)

    def one(i: int) -> Any:
        barrier.wait()
        return work(roots[i], i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_twenty_concurrent_finalizes_number_consecutively_each_once(world):
    from tollgate.domain.invoices import invoice_id

    issued = _race(20, lambda root, i: root.invoices.finalize(invoice_id(f"t{i:02d}", "2026-11")))
    assert sorted(inv.number for inv in issued) == [f"TG-{n:06d}" for n in range(1, 21)]
    stored = [world.invoice_store.get(invoice_id(f"t{i:02d}", "2026-11"), consistent=True) for i in range(20)]
    assert [s.number for s in stored] == [i.number for i in issued] and all(s.delivered for s in stored)
    seq = world.dynamodb.get_item(TableName=world.settings.invoices_table, Key={"pk": {"S": "SEQ#TG"}})["Item"]
    assert seq["n"]["N"] == "20"
    ready = world.alert_store.list(None, unread=None, type_="invoice.ready", limit=100, cursor=None)
    assert sorted(d["number"] for d in ready.items) == [f"TG-{n:06d}" for n in range(1, 21)]


def test_eight_finalizes_of_one_draft_take_one_number(world):
    from tollgate.domain.invoices import invoice_id

    issued = _race(8, lambda root, _: root.invoices.finalize(invoice_id("t07", "2026-11")))
    assert {inv.number for inv in issued} == {"TG-000001"}
    seq = world.dynamodb.get_item(TableName=world.settings.invoices_table, Key={"pk": {"S": "SEQ#TG"}})["Item"]
    assert seq["n"]["N"] == "1"
