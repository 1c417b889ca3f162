"""The hot tenant's raw-event log figure (``tollgate_dev.cost.hot_log_write_units``): write units
per second on the hottest log partition, with and without sharding. docs/storage.md quotes it."""

from __future__ import annotations

import random

import pytest

from tollgate.domain import storage_keys as keys
from tollgate_dev.cost import _binomial_tail, hot_log_write_units


def test_one_tenant_at_100k_events_a_second_stays_under_1000_units_per_key():
    hot = hot_log_write_units(100_000, 31_000)
    assert hot.unsharded == 3_100  # 100 chunks/s of 31 units: three times a partition's ceiling
    assert hot.per_shard == 3_100 / keys.LOG_SHARDS == 387.5
    assert hot.per_shard < hot.busiest_shard < 1_000


def test_the_figure_before_sharding_is_the_documented_310_at_10k():
    assert hot_log_write_units(10_000, 31_000, shards=1).unsharded == 310
    assert hot_log_write_units(10_000, 31_000, shards=1).busiest_shard == 310


def test_small_chunks_round_up_to_whole_write_units():
    # 10 events of 600 bytes: a 6 KB body, 7 units with the key (not 6)
    assert hot_log_write_units(1_000, 600_000, events_per_message=10, shards=1).unsharded == 100 * 7
    # one bare event per message: every chunk costs one unit whatever its size
    assert hot_log_write_units(500, 6_000, events_per_message=1).unsharded == 500


def test_four_shards_would_not_do():
    assert hot_log_write_units(100_000, 31_000, shards=4).busiest_shard > 1_000


@pytest.mark.parametrize("shards", [4, 8, 16])
def test_the_busiest_shard_matches_a_simulation(shards):
    """100 messages a second hashed over the shards: the busiest shard passes the figure in
    about 1 second in 1,000 or fewer."""
    hot = hot_log_write_units(100_000, 31_000, shards=shards)
    rng, over, seconds = random.Random(shards), 0, 4_000
    for _ in range(seconds):
        counts = [0] * shards
        for _ in range(100):
            counts[rng.randrange(shards)] += 1
        over += max(counts) * 31 > hot.busiest_shard
    assert over <= 0.003 * seconds


def test_binomial_tail():
    assert _binomial_tail(10, 0.5, 0) == pytest.approx(1)
    assert _binomial_tail(10, 0.5, 10) == pytest.approx(1 / 1024)
    assert _binomial_tail(10, 0.5, 11) == 0
