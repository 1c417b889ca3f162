"""The commit plan of a consumer batch: units of one transaction, packed into at most 100
items (tollgate.adapters.commit_plan). Pure."""

from __future__ import annotations

import random
from decimal import Decimal

from tollgate.adapters.commit_plan import coalesce_units, commit_units, pack_units
from tollgate.domain import storage_keys as keys
from tollgate.domain.counting import CounterKey, CounterUpdates


def updates_with(n_keys: int) -> CounterUpdates:
    u = CounterUpdates()
    for i in range(n_keys):
        u.add[CounterKey("G#acme#m#day#region", f"2026-11-19T23:00:00Z#{i:04d}")] = Decimal(i + 1)
    return u


def test_a_message_that_fits_is_one_unit_with_the_message_marker():
    units = commit_units("msg-1", 7, updates_with(99))
    assert len(units) == 1
    assert units[0].marker_pk == keys.message_marker_pk("msg-1") == "M#msg-1"
    assert len(units[0].adds) == 99 and units[0].counted == 7
    assert commit_units("msg-1", 0, CounterUpdates()) == []


def test_a_message_too_big_for_one_transaction_splits_into_deterministic_parts():
    u = updates_with(250)
    units = commit_units("msg-1", 3, u)
    assert [x.marker_pk for x in units] == ["M#msg-1#0", "M#msg-1#1", "M#msg-1#2"]
    assert all(len(x.adds) + 1 <= 100 for x in units)
    assert sorted(k for x in units for k, _, _ in x.adds) == sorted(u.add)
    shuffled = CounterUpdates(add=dict(random.Random(1).sample(sorted(u.add.items()), len(u.add))))
    assert commit_units("msg-1", 3, shuffled) == units  # a redelivery recomputes the same parts


def test_packing_respects_the_transaction_item_limit_and_shares_counter_keys():
    shared = {CounterKey("T#acme#m#day", "d"): Decimal(1)}
    units = [commit_units(f"m{i}", 1, CounterUpdates(add=dict(shared)))[0] for i in range(150)]
    txs = pack_units(units)
    assert [len(tx) for tx in txs] == [99, 51]  # 99 markers + 1 shared key, then the rest
    assert coalesce_units(txs[0]) == {CounterKey("T#acme#m#day", "d"): (Decimal(99), None)}
    big = commit_units("big", 1, updates_with(250))
    txs = pack_units(big + units[:3])
    assert all(len(tx) + len(coalesce_units(tx)) <= 100 for tx in txs)
    assert sorted(u.marker_pk for tx in txs for u in tx) == sorted(u.marker_pk for u in big + units[:3])
