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


def test_a_published_event_is_its_document_with_filterable_attributes(ports):
    notifier, _, root = ports
    first_event = {"id": "k-1", "type": "usage.threshold_reached", "tenant_id": "acme", "severity": "warning"}
    second_event = {"id": "k-2", "type": "system.counter_drift"}
    if root is not None:  # what a subscriber of the topic receives: an SQS queue subscribed to it
        sqs, sns = root._client("sqs"), root._client("sns")
        url = sqs.create_queue(QueueName="contract-subscriber")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=root.settings.alerts_topic_arn, Protocol="sqs", Endpoint=arn)
    first = notifier.publish(first_event, subject="acme at 80%")
    second = notifier.publish(second_event, subject="drift")
    assert first and second and first != second
    if root is None:
        seen = [(p.event, p.subject) for p in notifier.published]
        assert seen == [(first_event, "acme at 80%"), (second_event, "drift")]
        return
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    envelopes = sorted((json.loads(m["Body"]) for m in messages), key=lambda e: json.loads(e["Message"])["id"])
    assert [json.loads(e["Message"]) for e in envelopes] == [first_event, second_event]
    assert [e["Subject"] for e in envelopes] == ["acme at 80%", "drift"]
    attributes = {k: v["Value"] for k, v in envelopes[0]["MessageAttributes"].items()}
    assert attributes == {"type": "usage.threshold_reached", "tenant_id": "acme", "severity": "warning"}
    assert set(envelopes[1]["MessageAttributes"]) == {"type"}


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


def test_a_file_object_uploads_as_it_reads_and_round_trips(ports):
    import io

    _, blobs, _ = ports
    body = io.BytesIO(b"number,total\r\nTG-000001,10.00\r\n" * 1000)
    blobs.put_file("exports/2026-12-04/x.csv", body, "text/csv")
    assert blobs.get("exports/2026-12-04/x.csv") == b"number,total\r\nTG-000001,10.00\r\n" * 1000


def test_a_blobs_size_is_its_byte_count_and_none_when_missing(ports):
    _, blobs, _ = ports
    blobs.put("reports/2026-11.csv", "é,1\r\n".encode(), "text/csv")
    assert blobs.size("reports/2026-11.csv") == 6
    assert blobs.size("reports/2026-10.csv") is None
