"""Tenants' alert subscriptions on moto: the API routes (through the template's authorizer and
API function), the topic per tenant with filter policies, delivery through the
``TenantAlertTopics`` port, the cap of 10 and deletion (docs/alerts.md, "Delivery")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import new_root
from tollgate.domain.alert_types import ALERT_TYPES, BILLING_OVER_LIMIT, USAGE_THRESHOLD_REACHED
from tollgate.domain.keys import Scope

BASE = "/v1/tenants/{}/subscriptions"


@pytest.fixture
def tenants(api, admin_key) -> dict[str, str]:
    """Tenants ``acme`` and ``other`` (and ``dotted.id_x``), and the tenant keys of the first two."""
    for tenant in ("acme", "other", "dotted.id_x"):
        assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": tenant, "name": tenant}).status == 201
    create_key = new_root().keys.create_key
    return {t: create_key(Scope.TENANT, tenant_id=t)[1] for t in ("acme", "other")}


def queue(name: str) -> tuple[str, str]:
    """A new SQS queue: (url, ARN)."""
    sqs = new_root()._client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def received(url: str) -> list[dict[str, Any]]:
    """The SNS envelopes a queue holds (all of them, deleted as read)."""
    sqs = new_root()._client("sqs")
    out: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return out


def alert(tenant: str, alert_type: str, n: int) -> tuple[str, str, dict[str, str]]:
    """(subject, message, attributes) as the evaluator publishes them."""
    doc = {"id": f"{tenant}-{alert_type}-{n}", "type": alert_type, "tenant_id": tenant, "severity": "critical"}
    return f"{alert_type} for {tenant}", json.dumps(doc), {"type": alert_type, "severity": "critical"}


def topic_subscriptions(topic_arn: str) -> list[dict[str, Any]]:
    return new_root()._client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]


# ------------------------------------------------------------------ the routes
def test_create_list_and_delete(api, admin_key, tenants):
    _, arn = queue("acme-alerts")
    r = api.call("POST", BASE.format("acme"), key=admin_key, body={"protocol": "sqs", "endpoint": arn})
    assert r.status == 201, r.body
    made = r.body
    assert made["id"].startswith("sub_") and made["protocol"] == "sqs" and made["endpoint"] == arn
    assert made["types"] == list(ALERT_TYPES)  # the default: every type
    assert made["status"] == "confirmed"  # moto confirms at once; AWS confirms a same-account queue at once too
    assert made["created_at"] and made["topic_arn"].endswith("-tenant-alerts-acme")

    listed = api.call("GET", BASE.format("acme"), key=tenants["acme"])
    assert listed.status == 200 and listed.body == {"items": [made]}
    (sns_sub,) = topic_subscriptions(made["topic_arn"])
    assert sns_sub["Protocol"] == "sqs" and sns_sub["Endpoint"] == arn
    sns = new_root()._client("sns")
    attributes = sns.get_subscription_attributes(SubscriptionArn=sns_sub["SubscriptionArn"])["Attributes"]
    assert "FilterPolicy" not in attributes  # every type: no filter policy spent (10,000 per account)
    typed = api.call(
        "POST",
        BASE.format("acme"),
        key=admin_key,
        body={"protocol": "email", "endpoint": "x@acme.example", "types": [BILLING_OVER_LIMIT]},
    ).body
    (typed_sub,) = [s for s in topic_subscriptions(made["topic_arn"]) if s["Protocol"] == "email"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=typed_sub["SubscriptionArn"])["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"type": [BILLING_OVER_LIMIT]}
    assert api.call("DELETE", f"{BASE.format('acme')}/{typed['id']}", key=admin_key).status == 204

    gone = api.call("DELETE", f"{BASE.format('acme')}/{made['id']}", key=tenants["acme"])
    assert gone.status == 204 and gone.body is None
    assert api.call("GET", BASE.format("acme"), key=admin_key).body == {"items": []}
    assert topic_subscriptions(made["topic_arn"]) == []  # unsubscribed in SNS
    again = api.call("DELETE", f"{BASE.format('acme')}/{made['id']}", key=admin_key)
    assert again.status == 404


def test_every_protocol_and_a_dotted_tenant_id(api, admin_key, tenants):
    bodies = [
        {"protocol": "email", "endpoint": "ops@acme.example", "types": [BILLING_OVER_LIMIT]},
        {"protocol": "https", "endpoint": "https://hooks.acme.example/tollgate?x=1"},
        {"protocol": "http", "endpoint": "http://127.0.0.1:9/hook"},
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:somewhere-else"},
    ]
    for body in bodies:
        r = api.call("POST", BASE.format("dotted.id_x"), key=admin_key, body=body)
        assert r.status == 201, r.body
        assert r.body["topic_arn"].endswith("-tenant-alerts-dotted_-id__x")  # '.' -> '_-', '_' -> '__'
    items = api.call("GET", BASE.format("dotted.id_x"), key=admin_key).body["items"]
    assert [(i["protocol"], i["endpoint"]) for i in items] == [(b["protocol"], b["endpoint"]) for b in bodies]
    assert items[0]["types"] == [BILLING_OVER_LIMIT]


def test_a_tenant_key_sees_only_its_own_tenant(api, admin_key, tenants):
    _, arn = queue("other-alerts")
    made = api.call("POST", BASE.format("other"), key=admin_key, body={"protocol": "sqs", "endpoint": arn}).body
    acme = tenants["acme"]
    for method, path, body in (
        ("POST", BASE.format("other"), {"protocol": "sqs", "endpoint": arn}),
        ("GET", BASE.format("other"), None),
        ("DELETE", f"{BASE.format('other')}/{made['id']}", None),
    ):
        r = api.call(method, path, key=acme, body=body)
        assert r.status == 404 and "other" in r.problem["detail"], (method, r.body)
        ghost = api.call(method, path.replace("other", "ghost"), key=acme, body=body)
        assert ghost.status == 404  # the same answer as for a tenant that does not exist
    # acme's key cannot delete other's subscription through its own tenant either
    r = api.call("DELETE", f"{BASE.format('acme')}/{made['id']}", key=acme)
    assert r.status == 404
    assert [i["id"] for i in api.call("GET", BASE.format("other"), key=admin_key).body["items"]] == [made["id"]]
    assert api.call("GET", BASE.format("ghost"), key=admin_key).status == 404
    assert (
        api.call("POST", BASE.format("ghost"), key=admin_key, body={"protocol": "sqs", "endpoint": arn}).status == 404
    )


def test_an_ingest_key_is_refused(api, tenants):
    ingest = new_root().keys.create_key(Scope.INGEST)[1]
    assert api.call("GET", BASE.format("acme"), key=ingest).status == 403


@pytest.mark.parametrize(
    "body,field",
    [
        ({"protocol": "sms", "endpoint": "+15555550100"}, "protocol"),
        ({"protocol": "email", "endpoint": "not-an-address"}, "endpoint"),
        ({"protocol": "email", "endpoint": "a@b"}, "endpoint"),
        ({"protocol": "email", "endpoint": "https://acme.example"}, "endpoint"),
        ({"protocol": "https", "endpoint": "http://acme.example/hook"}, "endpoint"),
        ({"protocol": "http", "endpoint": "https://acme.example/hook"}, "endpoint"),
        ({"protocol": "https", "endpoint": "https:///no-host"}, "endpoint"),
        ({"protocol": "https", "endpoint": "https://acme.example:99999/"}, "endpoint"),
        ({"protocol": "https", "endpoint": "https://acme.example/a b"}, "endpoint"),
        ({"protocol": "sqs", "endpoint": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}, "endpoint"),
        ({"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:1234:q"}, "endpoint"),
        ({"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q.fifo"}, "endpoint"),
        ({"protocol": "sqs", "endpoint": "arn:aws:sns:us-east-1:123456789012:q"}, "endpoint"),
        ({"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q", "types": ["usage.nope"]}, "types[0]"),
        ({"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q", "types": []}, "types"),
        (
            {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q", "types": [BILLING_OVER_LIMIT] * 2},
            "types",
        ),
        ({"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q", "extra": 1}, "extra"),
        ({"endpoint": "ops@acme.example"}, "protocol"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(api, admin_key, tenants, body, field):
    r = api.call("POST", BASE.format("acme"), key=admin_key, body=body)
    assert r.status == 422, r.body
    assert field in [e["field"] for e in r.problem["errors"]], r.problem
    assert r.problem["type"] == "/problems/validation-error"
    assert api.call("GET", BASE.format("acme"), key=admin_key).body == {"items": []}
    assert new_root().subscription_table.topic("acme") is None  # not even the topic


def test_the_same_endpoint_twice_is_a_conflict(api, admin_key, tenants):
    body = {"protocol": "email", "endpoint": "ops@acme.example"}
    assert api.call("POST", BASE.format("acme"), key=admin_key, body=body).status == 201
    r = api.call("POST", BASE.format("acme"), key=tenants["acme"], body={**body, "types": [BILLING_OVER_LIMIT]})
    assert r.status == 409 and r.problem["errors"][0]["field"] == "endpoint"
    assert len(api.call("GET", BASE.format("acme"), key=admin_key).body["items"]) == 1
    # another tenant may use the same endpoint: its own topic
    assert api.call("POST", BASE.format("other"), key=admin_key, body=body).status == 201


def test_the_eleventh_subscription_is_refused_until_one_is_deleted(api, admin_key, tenants):
    made = []
    for n in range(10):
        body = {"protocol": "https", "endpoint": f"https://hooks.acme.example/{n}"}
        r = api.call("POST", BASE.format("acme"), key=tenants["acme"], body=body)
        assert r.status == 201, (n, r.body)
        made.append(r.body)
    r = api.call(
        "POST", BASE.format("acme"), key=tenants["acme"], body={"protocol": "email", "endpoint": "x@y.example"}
    )
    assert r.status == 422 and r.problem["errors"][0]["field"] == "subscriptions", r.body
    assert "10" in r.problem["detail"]
    topic = made[0]["topic_arn"]
    assert len(topic_subscriptions(topic)) == 10  # nothing half-written: SNS and the table agree
    assert new_root().subscription_table.topic("acme").subscriptions == 10
    assert api.call("DELETE", f"{BASE.format('acme')}/{made[3]['id']}", key=admin_key).status == 204
    r = api.call(
        "POST", BASE.format("acme"), key=tenants["acme"], body={"protocol": "email", "endpoint": "x@y.example"}
    )
    assert r.status == 201
    assert len(topic_subscriptions(topic)) == 10
    assert new_root().subscription_table.topic("acme").subscriptions == 10


# ------------------------------------------------------------------ delivery through the port
def test_each_subscriber_receives_only_its_tenants_alerts_of_its_types(api, admin_key, tenants):
    a_url, a_arn = queue("a-over-limit")
    b_url, b_arn = queue("b-everything")
    body_a = {"protocol": "sqs", "endpoint": a_arn, "types": [BILLING_OVER_LIMIT]}
    assert api.call("POST", BASE.format("acme"), key=tenants["acme"], body=body_a).status == 201
    assert (
        api.call("POST", BASE.format("other"), key=tenants["other"], body={"protocol": "sqs", "endpoint": b_arn}).status
        == 201
    )

    topics = new_root().tenant_alert_topics
    for n in range(2):
        for tenant in ("acme", "other"):
            for alert_type in (USAGE_THRESHOLD_REACHED, BILLING_OVER_LIMIT):
                assert topics.publish(tenant, *alert(tenant, alert_type, n)) is not None
    assert topics.publish("dotted.id_x", *alert("dotted.id_x", BILLING_OVER_LIMIT, 0)) is None  # no subscriptions

    got_a = received(a_url)
    assert sorted(json.loads(m["Message"])["id"] for m in got_a) == [
        f"acme-{BILLING_OVER_LIMIT}-0",
        f"acme-{BILLING_OVER_LIMIT}-1",
    ]
    envelope = got_a[0]
    assert envelope["Subject"] == f"{BILLING_OVER_LIMIT} for acme"
    assert envelope["MessageAttributes"]["tenant_id"]["Value"] == "acme"
    assert envelope["TopicArn"].endswith("-tenant-alerts-acme")
    got_b = received(b_url)
    assert sorted(json.loads(m["Message"])["id"] for m in got_b) == sorted(
        f"other-{t}-{n}" for t in (USAGE_THRESHOLD_REACHED, BILLING_OVER_LIMIT) for n in range(2)
    )


def test_the_tenant_attribute_is_the_tenant_published_to(api, admin_key, tenants):
    """An attribute claiming another tenant is overwritten: the filter policy's tenant condition holds."""
    url, arn = queue("acme-all")
    assert api.call("POST", BASE.format("acme"), key=admin_key, body={"protocol": "sqs", "endpoint": arn}).status == 201
    subject, message, attributes = alert("acme", BILLING_OVER_LIMIT, 0)
    assert new_root().tenant_alert_topics.publish("acme", subject, message, {**attributes, "tenant_id": "other"})
    (got,) = received(url)
    assert got["MessageAttributes"]["tenant_id"]["Value"] == "acme"


def test_after_the_last_subscription_is_deleted_nothing_is_published(api, admin_key, tenants):
    _, arn = queue("short-lived")
    made = api.call("POST", BASE.format("acme"), key=admin_key, body={"protocol": "sqs", "endpoint": arn}).body
    assert api.call("DELETE", f"{BASE.format('acme')}/{made['id']}", key=admin_key).status == 204
    assert new_root().tenant_alert_topics.publish("acme", *alert("acme", BILLING_OVER_LIMIT, 0)) is None


def test_the_topic_lookup_is_cached_and_a_miss_is_not(api, admin_key, tenants, monkeypatch):
    root = new_root()
    table = root.subscription_table
    reads: list[str] = []
    original = table.topic_for_publish

    def counted(tenant_id: str) -> str | None:
        reads.append(tenant_id)
        return original(tenant_id)

    monkeypatch.setattr(table, "topic_for_publish", counted)
    topics = root.tenant_alert_topics
    assert topics.publish("acme", *alert("acme", BILLING_OVER_LIMIT, 0)) is None
    _, arn = queue("cached")
    assert api.call("POST", BASE.format("acme"), key=admin_key, body={"protocol": "sqs", "endpoint": arn}).status == 201
    for n in range(3):  # the miss was not cached: the first subscription counts at once
        assert topics.publish("acme", *alert("acme", BILLING_OVER_LIMIT, n)) is not None
    assert reads == ["acme", "acme"]  # one read for the miss, one for the hit, then the cache


def test_a_record_left_without_its_sns_arn_is_deleted_with_its_subscription(api, admin_key, tenants):
    """A crash between Subscribe and recording the ARN: deleting finds the SNS subscription by endpoint."""
    from dataclasses import replace

    from tollgate.domain.subscriptions import Status

    root = new_root()
    _, arn = queue("crashed")
    made = api.call("POST", BASE.format("acme"), key=admin_key, body={"protocol": "sqs", "endpoint": arn}).body
    table = root.subscription_table
    record = table.get("acme", made["id"])
    table.release(record)  # put it back as a reservation without its ARN, as step 2 left it
    table.reserve(replace(record, subscription_arn=None, status=Status.PENDING_CONFIRMATION), cap=10)
    listed = api.call("GET", BASE.format("acme"), key=admin_key).body["items"]
    assert [(i["id"], i["status"]) for i in listed] == [(made["id"], "pending_confirmation")]
    assert len(topic_subscriptions(made["topic_arn"])) == 1
    assert api.call("DELETE", f"{BASE.format('acme')}/{made['id']}", key=admin_key).status == 204
    assert topic_subscriptions(made["topic_arn"]) == []
    assert table.topic("acme").subscriptions == 0
