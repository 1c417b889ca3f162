"""In-memory ``SubscriptionStore``, ``SubscriptionChannels`` and ``TenantAlertTopics``
(services.ports), for the unit tests of the subscriptions service and of the alert evaluator.

``FakeChannels`` behaves as SNS does where it matters: a topic per name, one subscription per
topic, protocol and endpoint, e-mail and HTTP(S) subscriptions pending until ``confirm``, and
``publish`` delivering to each subscription whose filter policy (exact string lists on message
attributes, the only kind Tollgate writes) passes the message.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tollgate.domain.subscriptions import Protocol, Status, Subscription
from tollgate.services.ports import (
    EndpointRejected,
    EndpointTaken,
    FilterPolicyQuotaReached,
    SubscriptionCapReached,
    TenantTopic,
)

ACCOUNT = "123456789012"


class FakeSubscriptionStore:
    def __init__(self) -> None:
        self.topics: dict[str, TenantTopic] = {}
        self.records: dict[tuple[str, str], Subscription] = {}
        self.endpoints: dict[tuple[str, Protocol, str], str] = {}  # (tenant, protocol, endpoint) -> id
        self.fail_attach: Exception | None = None
        self._lock = threading.Lock()

    def topic(self, tenant_id: str) -> TenantTopic | None:
        return self.topics.get(tenant_id)

    def topic_for_publish(self, tenant_id: str) -> str | None:
        found = self.topics.get(tenant_id)
        return found.topic_arn if found is not None and found.subscriptions > 0 else None

    def set_topic(self, tenant_id: str, topic_arn: str) -> None:
        with self._lock:
            found = self.topics.get(tenant_id)
            self.topics[tenant_id] = TenantTopic(topic_arn, found.subscriptions if found else 0)

    def list(self, tenant_id: str) -> list[Subscription]:
        found = [s for (t, _), s in self.records.items() if t == tenant_id]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        return self.records.get((tenant_id, subscription_id))

    def reserve(self, subscription: Subscription, cap: int) -> None:
        s = subscription
        with self._lock:
            found = self.topics.get(s.tenant_id) or TenantTopic(None, 0)
            if found.subscriptions >= cap:
                raise SubscriptionCapReached(s.tenant_id)
            if (s.tenant_id, s.protocol, s.endpoint) in self.endpoints:
                raise EndpointTaken(s.endpoint)
            assert (s.tenant_id, s.id) not in self.records
            self.records[(s.tenant_id, s.id)] = s
            self.endpoints[(s.tenant_id, s.protocol, s.endpoint)] = s.id
            self.topics[s.tenant_id] = TenantTopic(found.topic_arn, found.subscriptions + 1)

    def attach(self, subscription: Subscription) -> bool:
        if self.fail_attach is not None:
            raise self.fail_attach
        with self._lock:
            key = (subscription.tenant_id, subscription.id)
            if key not in self.records:
                return False
            self.records[key] = subscription
            return True

    def set_status(self, tenant_id: str, subscription_id: str, status: Status) -> None:
        with self._lock:
            found = self.records.get((tenant_id, subscription_id))
            if found is not None:
                self.records[(tenant_id, subscription_id)] = replace(found, status=status)

    def release(self, subscription: Subscription) -> bool:
        s = subscription
        with self._lock:
            if self.records.pop((s.tenant_id, s.id), None) is None:
                return False
            if self.endpoints.get((s.tenant_id, s.protocol, s.endpoint)) == s.id:
                del self.endpoints[(s.tenant_id, s.protocol, s.endpoint)]
            found = self.topics[s.tenant_id]
            self.topics[s.tenant_id] = TenantTopic(found.topic_arn, found.subscriptions - 1)
            return True


@dataclass
class FakeSnsSubscription:
    arn: str
    topic_arn: str
    protocol: Protocol
    endpoint: str
    filter_policy: dict[str, list[str]]  # {}: no filter policy, every message
    status: Status
    delivered: list[Delivery] = field(default_factory=list)

    def passes(self, attributes: dict[str, str]) -> bool:
        return all(attributes.get(name) in allowed for name, allowed in self.filter_policy.items())


@dataclass(frozen=True)
class Delivery:
    message_id: str
    subject: str
    message: str
    attributes: dict[str, str]


class FakeChannels:
    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.topics: dict[str, str] = {}  # name -> ARN
        self.subscriptions: dict[str, FakeSnsSubscription] = {}
        self.fail_subscribe: Exception | None = None
        self.filter_policy_quota: int | None = None  # per account (SNS: 10,000 by default)
        self.calls: list[str] = []
        self._ids = itertools.count(1)

    def ensure_topic(self, name: str) -> str:
        self.calls.append("ensure_topic")
        return self.topics.setdefault(name, f"arn:aws:sns:{self.region}:{ACCOUNT}:{name}")

    def subscribe(
        self, topic_arn: str, protocol: Protocol, endpoint: str, filter_policy: str | None
    ) -> tuple[str, Status]:
        self.calls.append("subscribe")
        if self.fail_subscribe is not None:
            raise self.fail_subscribe
        if topic_arn not in self.topics.values():
            raise EndpointRejected(f"topic {topic_arn} does not exist")
        policy = {} if filter_policy is None else json.loads(filter_policy)
        if policy and self.filter_policy_quota is not None:
            in_use = sum(1 for s in self.subscriptions.values() if s.filter_policy)
            if in_use >= self.filter_policy_quota:
                raise FilterPolicyQuotaReached("FilterPolicyLimitExceeded")
        for existing in self.subscriptions.values():
            if (existing.topic_arn, existing.protocol, existing.endpoint) == (topic_arn, protocol, endpoint):
                if existing.filter_policy != policy:
                    raise EndpointRejected("Subscription already exists with different attributes")
                return existing.arn, existing.status
        arn = f"{topic_arn}:{next(self._ids):08d}-fake"
        status = Status.CONFIRMED if protocol is Protocol.SQS else Status.PENDING_CONFIRMATION
        self.subscriptions[arn] = FakeSnsSubscription(arn, topic_arn, protocol, endpoint, policy, status)
        return arn, status

    def status(self, subscription_arn: str) -> Status | None:
        found = self.subscriptions.get(subscription_arn)
        return found.status if found else None

    def unsubscribe(self, subscription_arn: str) -> None:
        self.calls.append("unsubscribe")
        self.subscriptions.pop(subscription_arn, None)

    def find(self, topic_arn: str, protocol: Protocol, endpoint: str) -> str | None:
        for s in self.subscriptions.values():
            if (s.topic_arn, s.protocol, s.endpoint) == (topic_arn, protocol, endpoint):
                return s.arn
        return None

    # ---------------------------------------------------------------- what SNS does on its own
    def confirm(self, subscription_arn: str) -> None:
        """The endpoint confirms (the link in the e-mail, the SubscribeURL of the webhook)."""
        self.subscriptions[subscription_arn].status = Status.CONFIRMED

    def publish(self, topic_arn: str, subject: str, message: str, attributes: dict[str, str]) -> str:
        message_id = f"msg-{next(self._ids)}"
        for s in self.subscriptions.values():
            if s.topic_arn == topic_arn and s.status is Status.CONFIRMED and s.passes(attributes):
                s.delivered.append(Delivery(message_id, subject, message, dict(attributes)))
        return message_id

    def delivered_to(self, endpoint: str) -> list[Delivery]:
        return [d for s in self.subscriptions.values() if s.endpoint == endpoint for d in s.delivered]


@dataclass(frozen=True)
class TenantPublished:
    tenant_id: str
    subject: str
    message: str
    attributes: dict[str, str]
    message_id: str


class FakeTenantAlertTopics:
    """``ports.TenantAlertTopics``. On its own, the tenants in ``subscribed`` have subscribers
    (``publish`` returns a message id for them, None for the others); over a store and channels
    (``FakeTenantAlertTopics.over(store, channels)``) it is the adapter's logic, with delivery
    through the fake SNS's filter policies."""

    def __init__(self, subscribed: Iterable[str] = ()) -> None:
        self.subscribed = set(subscribed)
        self.published: list[TenantPublished] = []
        self._store: FakeSubscriptionStore | None = None
        self._channels: FakeChannels | None = None
        self._ids = itertools.count(1)

    @classmethod
    def over(cls, store: FakeSubscriptionStore, channels: FakeChannels) -> FakeTenantAlertTopics:
        topics = cls()
        topics._store, topics._channels = store, channels
        return topics

    def publish(self, tenant_id: str, subject: str, message: str, attributes: dict[str, str]) -> str | None:
        values = {**attributes, "tenant_id": tenant_id}
        if self._store is not None and self._channels is not None:
            topic_arn = self._store.topic_for_publish(tenant_id)
            if topic_arn is None:
                return None
            message_id = self._channels.publish(topic_arn, subject, message, values)
        elif tenant_id in self.subscribed:
            message_id = f"tenant-msg-{next(self._ids)}"
        else:
            return None
        self.published.append(TenantPublished(tenant_id, subject, message, values, message_id))
        return message_id
