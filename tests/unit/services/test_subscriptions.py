"""SubscriptionService on the fakes: validation, the topic per tenant, the cap, and the order of
writes that leaves nothing half-written when SNS or the store fails."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.fakes.subscriptions import FakeChannels, FakeSubscriptionStore, FakeTenantAlertTopics
from tests.fakes.world import World
from tollgate.domain.alert_types import ALERT_TYPES, BILLING_OVER_LIMIT
from tollgate.domain.errors import Conflict, NotFound, ValidationFailed
from tollgate.domain.subscriptions import Protocol, Status
from tollgate.services.ports import EndpointRejected
from tollgate.services.subscriptions import SubscriptionService

from .conftest import add_tenant, fields_of

SQS = "arn:aws:sqs:us-east-1:123456789012:alerts"


@pytest.fixture
def store() -> FakeSubscriptionStore:
    return FakeSubscriptionStore()


@pytest.fixture
def channels() -> FakeChannels:
    return FakeChannels()


@pytest.fixture
def service(world: World, store, channels) -> SubscriptionService:
    add_tenant(world, "acme")
    add_tenant(world, "other")
    return SubscriptionService(world.tenants, store, channels, world.clock, topic_prefix="tg-tenant-alerts")


def test_a_subscription_gets_the_tenants_topic_and_a_type_filter(service, store, channels):
    made = service.create("acme", Protocol.SQS, SQS, [BILLING_OVER_LIMIT])
    assert made.types == (BILLING_OVER_LIMIT,) and made.status is Status.CONFIRMED
    assert made.topic_arn == "arn:aws:sns:us-east-1:123456789012:tg-tenant-alerts-acme"
    (sns,) = channels.subscriptions.values()
    assert sns.arn == made.subscription_arn and sns.topic_arn == made.topic_arn
    assert sns.filter_policy == {"type": [BILLING_OVER_LIMIT]}
    assert store.get("acme", made.id) == made and store.topic("acme").subscriptions == 1


def test_without_types_every_type_and_no_filter_policy(service, channels):
    everything = service.create("acme", Protocol.EMAIL, "a@acme.example")
    assert everything.types is None and channels.subscriptions[everything.subscription_arn].filter_policy == {}
    reversed_types = list(reversed(ALERT_TYPES))
    named = service.create("acme", Protocol.EMAIL, "b@acme.example", reversed_types)
    assert named.types == ALERT_TYPES  # named types are kept, in a fixed order, as a filter
    assert channels.subscriptions[named.subscription_arn].filter_policy == {"type": list(ALERT_TYPES)}


def test_when_the_accounts_filter_policies_run_out_only_typed_subscriptions_are_refused(service, store, channels):
    channels.filter_policy_quota = 1
    service.create("acme", Protocol.EMAIL, "a@acme.example", [BILLING_OVER_LIMIT])
    with pytest.raises(ValidationFailed) as caught:
        service.create("other", Protocol.EMAIL, "a@other.example", [BILLING_OVER_LIMIT])
    assert fields_of(caught.value) == ["types"] and "leave `types` out" in caught.value.detail
    assert store.topic("other").subscriptions == 0 and store.list("other") == []
    service.create("other", Protocol.EMAIL, "a@other.example")  # every type: no filter policy needed


def test_one_topic_per_tenant_made_once(service, channels):
    service.create("acme", Protocol.EMAIL, "a@acme.example")
    service.create("acme", Protocol.HTTPS, "https://acme.example/hook")
    service.create("other", Protocol.EMAIL, "a@acme.example")
    assert sorted(channels.topics) == ["tg-tenant-alerts-acme", "tg-tenant-alerts-other"]
    assert channels.calls.count("ensure_topic") == 2  # the second subscription reads the stored ARN


@pytest.mark.parametrize(
    "protocol,endpoint,types,fields",
    [
        (Protocol.EMAIL, "nobody", None, ["endpoint"]),
        (Protocol.HTTPS, "http://acme.example", None, ["endpoint"]),
        (Protocol.HTTP, "ftp://acme.example", None, ["endpoint"]),
        (Protocol.SQS, "queue", None, ["endpoint"]),
        (Protocol.SQS, SQS, ["usage.nope"], ["types[0]"]),
        (Protocol.SQS, SQS, [BILLING_OVER_LIMIT, BILLING_OVER_LIMIT], ["types[1]"]),
        (Protocol.SQS, SQS, [], ["types"]),
        (Protocol.EMAIL, "nobody", ["x"], ["endpoint", "types[0]"]),
    ],
)
def test_bad_input_names_each_field_and_touches_nothing(service, store, channels, protocol, endpoint, types, fields):
    with pytest.raises(ValidationFailed) as caught:
        service.create("acme", protocol, endpoint, types)
    assert fields_of(caught.value) == fields
    assert store.topics == {} and store.records == {} and channels.calls == []


def test_an_unknown_tenant_is_404_and_gets_no_topic(service, channels):
    with pytest.raises(NotFound):
        service.create("ghost", Protocol.EMAIL, "a@acme.example")
    with pytest.raises(NotFound):
        service.list("ghost")
    assert channels.topics == {}


def test_the_eleventh_is_refused_and_a_deletion_makes_room(service, store, channels):
    made = [service.create("acme", Protocol.HTTPS, f"https://acme.example/{n}") for n in range(10)]
    with pytest.raises(ValidationFailed) as caught:
        service.create("acme", Protocol.EMAIL, "a@acme.example")
    assert fields_of(caught.value) == ["subscriptions"]
    assert len(channels.subscriptions) == 10 and store.topic("acme").subscriptions == 10
    service.create("other", Protocol.EMAIL, "a@acme.example")  # the cap is per tenant
    service.delete("acme", made[0].id)
    service.create("acme", Protocol.EMAIL, "a@acme.example")
    assert store.topic("acme").subscriptions == 10


def test_the_same_endpoint_twice_is_a_conflict(service, channels):
    service.create("acme", Protocol.EMAIL, "a@acme.example")
    with pytest.raises(Conflict) as caught:
        service.create("acme", Protocol.EMAIL, "a@acme.example", [BILLING_OVER_LIMIT])
    assert [e.field for e in caught.value.errors] == ["endpoint"]
    assert len(channels.subscriptions) == 1


def test_an_endpoint_sns_refuses_is_422_and_leaves_nothing(service, store, channels):
    channels.fail_subscribe = EndpointRejected("Invalid parameter: Endpoint")
    with pytest.raises(ValidationFailed) as caught:
        service.create("acme", Protocol.HTTPS, "https://acme.example/hook")
    assert fields_of(caught.value) == ["endpoint"]
    assert store.records == {} and store.topic("acme").subscriptions == 0


def test_an_sns_failure_releases_the_reservation(service, store, channels):
    channels.fail_subscribe = ConnectionError("SNS is down")
    with pytest.raises(ConnectionError):
        service.create("acme", Protocol.HTTPS, "https://acme.example/hook")
    assert store.records == {} and store.endpoints == {} and store.topic("acme").subscriptions == 0
    channels.fail_subscribe = None
    service.create("acme", Protocol.HTTPS, "https://acme.example/hook")  # the endpoint is free again


def test_a_failure_to_record_the_arn_unsubscribes_and_releases(service, store, channels):
    store.fail_attach = ConnectionError("DynamoDB is down")
    with pytest.raises(ConnectionError):
        service.create("acme", Protocol.SQS, SQS)
    assert channels.subscriptions == {} and store.records == {} and store.topic("acme").subscriptions == 0


def test_a_subscription_deleted_while_being_made_is_unsubscribed(service, store, channels):
    original = store.attach

    def delete_first(subscription):
        store.release(store.get(subscription.tenant_id, subscription.id))  # a concurrent DELETE won
        return original(subscription)

    store.attach = delete_first
    with pytest.raises(NotFound):
        service.create("acme", Protocol.SQS, SQS)
    assert channels.subscriptions == {} and store.topic("acme").subscriptions == 0


def test_pending_until_the_endpoint_confirms(service, store, channels):
    made = service.create("acme", Protocol.EMAIL, "a@acme.example")
    assert made.status is Status.PENDING_CONFIRMATION
    assert [s.status for s in service.list("acme")] == [Status.PENDING_CONFIRMATION]
    channels.confirm(made.subscription_arn)
    assert [s.status for s in service.list("acme")] == [Status.CONFIRMED]
    assert store.get("acme", made.id).status is Status.CONFIRMED  # recorded: no SNS call next time


def test_delete_unsubscribes_and_a_second_delete_is_404(service, store, channels):
    made = service.create("acme", Protocol.SQS, SQS)
    service.delete("acme", made.id)
    assert channels.subscriptions == {} and service.list("acme") == []
    with pytest.raises(NotFound):
        service.delete("acme", made.id)
    with pytest.raises(NotFound):
        service.delete("other", made.id)


def test_a_record_without_its_arn_is_found_by_endpoint_on_delete(service, store, channels):
    made = service.create("acme", Protocol.SQS, SQS)
    store.records[("acme", made.id)] = replace(made, subscription_arn=None, status=Status.PENDING_CONFIRMATION)
    service.delete("acme", made.id)
    assert channels.subscriptions == {} and store.topic("acme").subscriptions == 0


def test_alerts_reach_only_the_tenants_subscribers_of_their_types(service, store, channels):
    service.create("acme", Protocol.SQS, SQS, [BILLING_OVER_LIMIT])
    other_queue = "arn:aws:sqs:us-east-1:123456789012:other"
    service.create("other", Protocol.SQS, other_queue)
    topics = FakeTenantAlertTopics.over(store, channels)
    for tenant in ("acme", "other"):
        for alert_type in ALERT_TYPES:
            body = json.dumps({"id": f"{tenant}/{alert_type}", "type": alert_type})
            assert topics.publish(tenant, alert_type, body, {"type": alert_type, "tenant_id": "spoofed"})
    assert [json.loads(d.message)["id"] for d in channels.delivered_to(SQS)] == [f"acme/{BILLING_OVER_LIMIT}"]
    assert [json.loads(d.message)["id"] for d in channels.delivered_to(other_queue)] == [
        f"other/{t}" for t in ALERT_TYPES
    ]
    assert topics.publish("ghost", "s", "{}", {"type": BILLING_OVER_LIMIT}) is None


def test_the_standalone_fake_publishes_for_subscribed_tenants_only():
    topics = FakeTenantAlertTopics(subscribed={"acme"})
    assert topics.publish("acme", "s", "{}", {"type": BILLING_OVER_LIMIT}) is not None
    assert topics.publish("other", "s", "{}", {"type": BILLING_OVER_LIMIT}) is None
    assert [(p.tenant_id, p.attributes["tenant_id"]) for p in topics.published] == [("acme", "acme")]
