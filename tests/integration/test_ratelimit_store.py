"""The DynamoDB bucket store and the in-memory one (used by the unit tests and the bench)
answer every conditional write the same way, so the fake cannot drift from the real thing."""

from __future__ import annotations

import os
import random

from tests.conftest import new_root
from tests.fakes.ratelimit import FakeBucketStore
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tollgate.adapters.ratelimit_store import DynamoBucketStore
from tollgate.domain.ratelimit import US, Branch, Bucket, LeaseWrite, plan_write


def dynamo_store() -> DynamoBucketStore:
    """The store the API functions' roots build, on this world's rate-limits table."""
    store = new_root().rate_limits.limiter.store
    assert isinstance(store, DynamoBucketStore) and store.table == os.environ["RATE_LIMITS_TABLE"]
    return store


def test_dynamo_and_memory_stores_agree_on_every_write(fresh_aws):
    dynamo, memory = dynamo_store(), FakeBucketStore()
    rnd = random.Random(7)
    bucket = Bucket(1000, 400)  # slack 20 ms: both branches and the slack band get exercised
    now_us = 1_800_000_000 * US
    known: dict[str, int | None] = {"a": None, "b": None}
    for _ in range(300):
        key = rnd.choice("ab")
        now_us += rnd.choice([0, 1_000, 20_000, 300_000])
        # sometimes a stale view (another instance moved the bucket), sometimes a wrong branch
        seen = known[key] if rnd.random() < 0.8 else rnd.choice([None, now_us - 1, now_us + 100_000])
        write = plan_write(bucket, seen, now_us, rnd.randint(1, 8), busy=rnd.random() < 0.2)
        if write is None or rnd.random() < 0.1:
            write = LeaseWrite(
                rnd.choice(list(Branch)),
                1,
                now_us,
                bucket.emission_us,
                now_us + bucket.room_us - bucket.emission_us,
                now_us - rnd.choice([0, 20_000]),
            )
        got = dynamo.write(key, write)
        assert got == memory.write(key, write), (key, write)
        known[key] = got[1]


def test_the_bucket_item_expires_after_it_refills(fresh_aws):
    import boto3

    store = dynamo_store()
    now_us = 1_800_000_000 * US
    store.write("t#x", LeaseWrite(Branch.RESET, 1, now_us, 100_000, 0, now_us))
    client = boto3.client("dynamodb", region_name="us-east-1")
    item = client.get_item(TableName=os.environ["RATE_LIMITS_TABLE"], Key={"pk": {"S": "t#x"}})["Item"]
    assert int(item["tat"]["N"]) == now_us + 100_000
    assert int(item["expires_at"]["N"]) == 1_800_000_000 + 3600
