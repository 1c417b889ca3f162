"""Tenants' alert subscriptions over HTTP on the running local stack: an http webhook receives
its tenant's alerts of its types (and no other tenant's), and an e-mail subscription's alerts
show in the local outbox (``GET /_local/outbox``, ``tollgate local outbox``).

The test publishes as the alert service does: through the
``TenantAlertTopics`` adapter, pointed at the stack's embedded moto (printed as ``AWS:``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tollgate.domain.alert_types import BILLING_OVER_LIMIT, USAGE_THRESHOLD_REACHED

from .conftest import ROOT, LocalStackProcess

pytestmark = pytest.mark.e2e


class Webhook:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.received.append((dict(self.headers.items()), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [json.loads(envelope["Message"])["id"] for _, envelope in self.received]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def _aws_endpoint(stack: LocalStackProcess) -> str:
    line = next(line for line in stack.output().splitlines() if line.startswith("AWS:"))
    return line.split()[1]


@pytest.fixture
def tenant_topics(local_stack: LocalStackProcess) -> Any:
    """The evaluator's delivery port on the stack's SNS and subscriptions table."""
    import boto3

    from tollgate.adapters.subscriptions import SnsTenantAlertTopics, SubscriptionTable
    from tollgate_dev.local.template import Template

    endpoint = _aws_endpoint(local_stack)
    template = Template.load(ROOT / "template.yaml", endpoint_url=endpoint)
    session = boto3.Session(region_name=template.region)
    table = SubscriptionTable(
        session.client("dynamodb", endpoint_url=endpoint), template.physical_name("SubscriptionsTable")
    )
    return SnsTenantAlertTopics(session.client("sns", endpoint_url=endpoint), table.topic_for_publish)


def _alert(tenant: str, alert_type: str) -> tuple[str, str, dict[str, str]]:
    doc = {"id": f"{tenant}/{alert_type}", "type": alert_type, "tenant_id": tenant, "severity": "critical"}
    return f"Tollgate: {alert_type} for {tenant}", json.dumps(doc), {"type": alert_type, "severity": "critical"}


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_webhook_and_outbox_receive_their_tenants_alerts_of_their_types(local_stack, tenant_topics, webhook):
    base, admin = local_stack.base_url, {"Authorization": f"Bearer {local_stack.admin_key}"}
    tag = uuid.uuid4().hex[:8]
    mine, theirs = f"subs-{tag}", f"subs-other.{tag}"
    keys = {}
    for tenant in (mine, theirs):
        assert (
            requests.post(f"{base}/v1/tenants", headers=admin, json={"id": tenant, "name": tenant}).status_code == 201
        )
        made = requests.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tenant})
        keys[tenant] = {"Authorization": f"Bearer {made.json()['key']}"}

    def subscribe(tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        r = requests.post(f"{base}/v1/tenants/{tenant}/subscriptions", headers=keys[tenant], json=body)
        assert r.status_code == 201, r.text
        return r.json()

    hook = subscribe(mine, {"protocol": "http", "endpoint": webhook.url, "types": [BILLING_OVER_LIMIT]})
    subscribe(mine, {"protocol": "email", "endpoint": f"ops@{tag}.example"})
    subscribe(theirs, {"protocol": "email", "endpoint": f"ops@{tag}.other.example", "types": [USAGE_THRESHOLD_REACHED]})
    assert hook["status"] == "confirmed"  # moto confirms at once (AWS: pending until the endpoint confirms)
    assert requests.get(f"{base}/v1/tenants/{theirs}/subscriptions", headers=keys[mine]).status_code == 404

    for tenant in (mine, theirs):
        for alert_type in (USAGE_THRESHOLD_REACHED, BILLING_OVER_LIMIT):
            assert tenant_topics.publish(tenant, *_alert(tenant, alert_type)) is not None

    _wait_for(lambda: webhook.received)
    time.sleep(0.5)  # anything else would have come by now: deliveries are POSTed in order
    assert webhook.ids() == [f"{mine}/{BILLING_OVER_LIMIT}"]  # once; not the threshold, not the other tenant's
    headers, envelope = webhook.received[0]
    assert headers["x-amz-sns-message-type"] == "Notification" and envelope["TopicArn"] == hook["topic_arn"]
    assert envelope["Subject"] == f"Tollgate: {BILLING_OVER_LIMIT} for {mine}"

    outbox = requests.get(f"{base}/_local/outbox/{mine}", headers=admin, timeout=10)
    assert outbox.status_code == 200
    assert sorted(json.loads(e["message"])["id"] for e in outbox.json()["items"]) == sorted(
        [f"{mine}/{USAGE_THRESHOLD_REACHED}", f"{mine}/{BILLING_OVER_LIMIT}"]
    )
    everyone = requests.get(f"{base}/_local/outbox", headers=admin, timeout=10).json()["items"]
    assert [json.loads(e["message"])["id"] for e in everyone if e["tenant_id"] == theirs] == [
        f"{theirs}/{USAGE_THRESHOLD_REACHED}"
    ]
    assert (
        requests.get(f"{base}/_local/outbox", timeout=10).status_code == 401
    )  # the admin key, as every control endpoint

    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tollgate_dev.cli",
            "local",
            "outbox",
            "--port",
            str(local_stack.port),
            "--tenant",
            mine,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TOLLGATE_ADMIN_KEY": local_stack.admin_key},
    )
    assert printed.returncode == 0, printed.stderr
    assert (
        f"to ops@{tag}.example" in printed.stdout
        and f"Subject: Tollgate: {BILLING_OVER_LIMIT} for {mine}" in printed.stdout
    )

    gone = requests.delete(f"{base}/v1/tenants/{mine}/subscriptions/{hook['id']}", headers=keys[mine])
    assert gone.status_code == 204
    tenant_topics.publish(mine, *_alert(mine, BILLING_OVER_LIMIT))
    time.sleep(0.5)
    assert len(webhook.received) == 1  # unsubscribed: nothing more reaches the webhook
