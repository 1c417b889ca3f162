"""The activity index: the DynamoDB adapter (on moto, the template's AlertStateTable) and the
in-memory fake held to one contract, plus what only the adapter does (batches of 25, items left
unprocessed, the stored item)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import new_root
from tests.fakes.activity import FakeActivityIndex
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tollgate.adapters.activity_index import DynamoActivityIndex
from tollgate.services.ports import StoreBusy

H5 = datetime(2026, 11, 20, 5, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "fake"])
def index(request, fresh_aws) -> Iterator[Any]:
    yield new_root().activity_index if request.param == "dynamodb" else FakeActivityIndex()


def test_marks_are_read_back_by_the_hours_they_fall_in(index):
    index.mark(H5 + timedelta(minutes=59), [("acme", "gb"), ("acme", "calls")])
    index.mark(H5 + timedelta(hours=1), [("beta", "gb")])
    assert index.active(H5, H5 + timedelta(hours=1)) == {("acme", "gb"), ("acme", "calls")}
    assert index.active(H5 + timedelta(minutes=30), H5 + timedelta(minutes=61)) == {
        ("acme", "gb"),
        ("acme", "calls"),
        ("beta", "gb"),
    }
    assert index.active(H5 - timedelta(hours=3), H5) == set()
    assert index.active(H5 + timedelta(hours=1), H5 + timedelta(hours=1)) == set()  # an empty range


def test_marking_is_idempotent_and_takes_any_number_of_pairs(index):
    pairs = [(f"t{i}", f"m{i % 3}") for i in range(60)]
    index.mark(H5, pairs + pairs[:10])
    index.mark(H5, pairs)
    assert index.active(H5, H5 + timedelta(hours=1)) == set(pairs)


def test_key_parts_may_not_hold_the_separator(index):
    with pytest.raises(ValueError):
        index.mark(H5, [("a#b", "gb")])


def _items() -> list[dict[str, Any]]:
    import boto3

    return boto3.client("dynamodb").scan(TableName=os.environ["ALERT_STATE_TABLE"])["Items"]


def test_the_stored_item_expires_three_days_after_its_hour(fresh_aws):
    new_root().activity_index.mark(H5 + timedelta(minutes=20), [("acme", "gb")])
    (item,) = _items()
    assert item["pk"] == {"S": "A#2026-11-20T05"} and item["sk"] == {"S": "acme#gb"}
    assert int(item["expires_at"]["N"]) == int((H5 + timedelta(days=3)).timestamp())


class Flaky:
    """A client whose BatchWriteItem leaves the last item of each request unprocessed ``times``
    times, as DynamoDB does under throttling."""

    def __init__(self, client: Any, times: int) -> None:
        self.client, self.times, self.sizes = client, times, []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:  # noqa: N803
        (table, requests), *_ = RequestItems.items()
        self.sizes.append(len(requests))
        keep, left = (requests[:-1], requests[-1:]) if self.times > 0 else (requests, [])
        self.times -= 1
        self.client.batch_write_item(RequestItems={table: keep}) if keep else None
        return {"UnprocessedItems": {table: left} if left else {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_unprocessed_marks_are_written_again_in_requests_of_25(fresh_aws):
    root = new_root()
    flaky = Flaky(root.dynamodb, times=2)
    index = DynamoActivityIndex(flaky, root.settings.alert_state_table, sleep=lambda attempt: None)
    index.mark(H5, [(f"t{i}", "gb") for i in range(30)])
    assert flaky.sizes == [25, 1, 1, 5] and len(_items()) == 30
    stuck = DynamoActivityIndex(Flaky(root.dynamodb, times=99), root.settings.alert_state_table, sleep=lambda a: None)
    with pytest.raises(StoreBusy):
        stuck.mark(H5, [("acme", "gb")])
