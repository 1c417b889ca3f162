"""The cap of 10 subscriptions per tenant under real concurrency: 16 requests at once, each in
its own composition root (as Lambda runs one request per execution environment), against moto
in server mode (``AtomicMotoServer``: one AWS request at a time, the requests of the 16 flows
interleaved arbitrarily). Exactly 10 are made; SNS and the table agree."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import new_root
from tests.integration.conftest import template_on
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.subscriptions import Protocol

pytestmark = pytest.mark.server


@pytest.fixture
def world(moto_server: str) -> Iterator[Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with template_on(moto_server, AWS_MAX_ATTEMPTS="1") as template:
        new_root().tenants.create_tenant({"id": "acme", "name": "Acme"})
        yield template


def test_sixteen_at_once_make_exactly_ten(world):
    def attempt(n: int) -> str:
        try:
            new_root().subscriptions.create("acme", Protocol.HTTPS, f"https://hooks.acme.example/{n}")
        except ValidationFailed as refused:
            assert [e.field for e in refused.errors] == ["subscriptions"]
            return "refused"
        return "made"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count("made") == 10 and outcomes.count("refused") == 6
    root = new_root()
    made = root.subscriptions.list("acme")
    assert len(made) == 10 and all(s.subscription_arn for s in made)
    assert root.subscription_table.topic("acme").subscriptions == 10
    sns = root._client("sns")
    listed = sns.list_subscriptions_by_topic(TopicArn=made[0].topic_arn)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == sorted(s.subscription_arn for s in made)
