"""The local stack's SNS (tollgate_dev/local/sns_delivery.py and state.py) for tenants' alert
subscriptions: e-mail lands in the outbox (filtered as SNS would), HTTP(S) is POSTed off
moto's lock and a dead webhook fails no publish, and tenants' topics and subscriptions survive
a restart with their ARNs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, new_root
from tollgate.domain.alert_types import BILLING_OVER_LIMIT, USAGE_THRESHOLD_REACHED
from tollgate.domain.subscriptions import Protocol

ACCOUNT, REGION = "123456789012", "us-east-1"


class Webhook:
    """A local HTTP endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.arrived = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.received.append((dict(self.headers.items()), json.loads(body)))
                hook.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def delivery(aws) -> Iterator[Any]:
    from tollgate_dev.local.sns_delivery import LocalSnsDelivery, install

    local = LocalSnsDelivery(http_timeout_s=2)
    local.start()
    install(local)
    try:
        yield local
    finally:
        install(None)
        local.stop()


@pytest.fixture
def root(aws) -> Any:
    root = new_root()
    for tenant in ("acme", "other"):
        root.tenants.create_tenant({"id": tenant, "name": tenant})
    return root


def publish(root: Any, tenant: str, alert_type: str) -> str | None:
    doc = {"id": f"{tenant}/{alert_type}", "type": alert_type, "tenant_id": tenant}
    return root.tenant_alert_topics.publish(tenant, f"{alert_type} ({tenant})", json.dumps(doc), {"type": alert_type})


def test_email_lands_in_the_outbox_filtered_by_tenant_and_type(root, delivery):
    subs = root.subscriptions
    subs.create("acme", Protocol.EMAIL, "ops@acme.example", [BILLING_OVER_LIMIT])
    subs.create("acme", Protocol.EMAIL, "all@acme.example")
    subs.create("other", Protocol.EMAIL, "ops@other.example")
    for tenant in ("acme", "other"):
        for alert_type in (USAGE_THRESHOLD_REACHED, BILLING_OVER_LIMIT):
            assert publish(root, tenant, alert_type)
    got = [(e["to"], json.loads(e["message"])["id"]) for e in delivery.outbox()]
    assert sorted(got) == sorted(
        [
            ("all@acme.example", f"acme/{USAGE_THRESHOLD_REACHED}"),
            ("all@acme.example", f"acme/{BILLING_OVER_LIMIT}"),
            ("ops@acme.example", f"acme/{BILLING_OVER_LIMIT}"),
            ("ops@other.example", f"other/{USAGE_THRESHOLD_REACHED}"),
            ("ops@other.example", f"other/{BILLING_OVER_LIMIT}"),
        ]
    )
    mine = delivery.outbox("acme")
    assert {e["tenant_id"] for e in mine} == {"acme"} and len(mine) == 3
    assert {e["subject"] for e in mine} == {f"{USAGE_THRESHOLD_REACHED} (acme)", f"{BILLING_OVER_LIMIT} (acme)"}
    assert [e["number"] for e in delivery.outbox()] == sorted(e["number"] for e in delivery.outbox())


def test_http_is_posted_with_sns_headers_and_a_dead_endpoint_fails_no_publish(root, delivery, webhook):
    root.subscriptions.create("acme", Protocol.HTTP, webhook.url, [BILLING_OVER_LIMIT])
    root.subscriptions.create("acme", Protocol.HTTP, "http://127.0.0.1:9/nobody-listens")
    assert publish(root, "acme", USAGE_THRESHOLD_REACHED)  # filtered out for the webhook
    assert publish(root, "acme", BILLING_OVER_LIMIT)  # the dead endpoint fails only its own delivery
    assert delivery.wait_idle(10)
    ((headers, envelope),) = webhook.received
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-topic-arn"] == envelope["TopicArn"]
    assert envelope["Type"] == "Notification" and envelope["Subject"] == f"{BILLING_OVER_LIMIT} (acme)"
    assert json.loads(envelope["Message"])["id"] == f"acme/{BILLING_OVER_LIMIT}"
    assert envelope["MessageAttributes"]["type"]["Value"] == BILLING_OVER_LIMIT
    assert delivery.failed == 2 and delivery.delivered == 1  # the dead endpoint, twice


def test_tenant_topics_and_subscriptions_survive_a_restart(aws, root, tmp_path: Path):
    import boto3
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends

    from tollgate_dev.local import state
    from tollgate_dev.local.resources import create_all
    from tollgate_dev.local.template import Template

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="acme-over-limit")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:acme-over-limit"
    made = root.subscriptions.create("acme", Protocol.SQS, queue_arn, [BILLING_OVER_LIMIT])
    email = root.subscriptions.create("acme", Protocol.EMAIL, "ops@acme.example")
    template = Template.load(ROOT / "template.yaml")
    snapshot = state.capture(aws, boto3.Session(), account_id=ACCOUNT, region=REGION)
    state.save(tmp_path, snapshot)

    for backends in (dynamodb_backends, sqs_backends, s3_backends, sns_backends):
        backends.reset()
    created = create_all(template, boto3.Session())
    url = sqs.create_queue(QueueName="acme-over-limit")["QueueUrl"]
    loaded = state.load(tmp_path)
    restored = state.restore(loaded, created, boto3.Session(), account_id=ACCOUNT, region=REGION)
    assert (restored.topics, restored.subscriptions) == (1, 2)
    assert restored.summary().endswith("1 topics with 2 subscriptions")

    after = new_root()
    listed = {s.subscription_arn for s in after.subscriptions.list("acme")}
    assert listed == {made.subscription_arn, email.subscription_arn}
    assert publish(after, "acme", USAGE_THRESHOLD_REACHED) and publish(after, "acme", BILLING_OVER_LIMIT)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(json.loads(m["Body"])["Message"])["id"] for m in messages] == [f"acme/{BILLING_OVER_LIMIT}"]
    after.subscriptions.delete("acme", made.id)  # the saved ARN is the live one: SNS unsubscribes it
    sns = boto3.client("sns", region_name=REGION)
    remaining = sns.list_subscriptions_by_topic(TopicArn=made.topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in remaining] == [email.subscription_arn]
