"""One contract for the Notifier and BlobStore ports, held by the in-memory fakes
(tests/fakes/outbox.py) and by the SNS and S3 adapters on the template's topic and bucket.
Alerts and invoices test their services on the fakes; this keeps the fakes honest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import new_root
from tests.fakes.outbox import FakeBlobStore, FakeNotifier


@pytest.fixture(params=["fake", "aws"])
def ports(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any, Any]]:
    """(notifier, blob store, root or None)."""
    if request.param == "fake":
        yield FakeNotifier(), FakeBlobStore(), None
        return
    aws = request.getfixturevalue("aws")
    assert aws is not None
    root = new_root()
    yield root.notifier, root.blob_store, root


def test_a_published_event_carries_its_type_payload_and_dedupe_key(ports):
    notifier, _, root = ports
    first = notifier.publish("usage.threshold_reached", {"tenant": "acme", "threshold": "0.8"}, dedupe_key="k-1")
    second = notifier.publish("billing.over_limit", {"tenant": "acme"}, dedupe_key="k-2")
    assert first and second and first != second
    if root is None:
        seen = [(p.event_type, p.payload, p.dedupe_key) for p in notifier.published]
    else:  # what a subscriber of the topic receives: an SQS queue subscribed to it
        sqs, sns = root._client("sqs"), root._client("sns")
        url = sqs.create_queue(QueueName="contract-subscriber")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=root.settings.alerts_topic_arn, Protocol="sqs", Endpoint=arn)
        notifier.publish("usage.threshold_reached", {"tenant": "acme", "threshold": "0.8"}, dedupe_key="k-1")
        notifier.publish("billing.over_limit", {"tenant": "acme"}, dedupe_key="k-2")
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
        seen = [(b["type"], b["data"], b["id"]) for b in bodies]
    assert sorted(seen, key=lambda s: s[2]) == [
        ("usage.threshold_reached", {"tenant": "acme", "threshold": "0.8"}, "k-1"),
        ("billing.over_limit", {"tenant": "acme"}, "k-2"),
    ]


def test_a_blob_round_trips_and_a_missing_one_is_none(ports):
    _, blobs, _ = ports
    blobs.put("invoices/acme/2026-11.html", b"<h1>Invoice</h1>", "text/html")
    assert blobs.get("invoices/acme/2026-11.html") == b"<h1>Invoice</h1>"
    assert blobs.get("invoices/acme/nope.html") is None
    blobs.put("invoices/acme/2026-11.html", b"<h1>v2</h1>", "text/html")
    assert blobs.get("invoices/acme/2026-11.html") == b"<h1>v2</h1>"


def test_a_link_names_the_object_and_expires(ports):
    _, blobs, _ = ports
    blobs.put("invoices/acme/2026-11.html", b"x", "text/html")
    link = blobs.link("invoices/acme/2026-11.html", 3600)
    assert link.startswith("https://") and "2026-11.html" in link
    assert ("Expires=" in link) or ("X-Amz-Expires=3600" in link) or ("expires_in=3600" in link)
