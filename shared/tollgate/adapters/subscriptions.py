"""Tenants' alert subscriptions on DynamoDB and SNS: ``SubscriptionTable`` (ports.SubscriptionStore),
``SnsChannels`` (ports.SubscriptionChannels) and ``SnsTenantAlertTopics`` (ports.TenantAlertTopics).

The subscriptions table holds one partition per tenant (``tenant_id``), with these sort keys:

- ``topic``: the tenant's topic ARN and ``subscriptions``, its count of subscriptions;
- ``sub#<id>``: one subscription (protocol, endpoint, types, status, SNS ARN);
- ``endpoint#<protocol>#<sha256 of the endpoint>``: who holds an endpoint (SNS keeps one
  subscription per topic, protocol and endpoint, so two records must not share one).

The count, the record and the endpoint change together in one transaction, whose conditions
are the cap and a free endpoint: concurrent requests cannot pass the cap.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from tollgate.domain.subscriptions import Protocol, Status, Subscription
from tollgate.services.ports import (
    EndpointRejected,
    EndpointTaken,
    FilterPolicyQuotaReached,
    SubscriptionCapReached,
    TenantTopic,
)

TOPIC_SK = "topic"
SUB_PREFIX = "sub#"
COUNT = "subscriptions"
TOPIC_ENCRYPTION = {"KmsMasterKeyId": "alias/aws/sns"}  # as the template's AlertsTopic
_CONFLICT_RETRIES = 3


def _endpoint_sk(protocol: Protocol, endpoint: str) -> str:
    return f"endpoint#{protocol.value}#{hashlib.sha256(endpoint.encode()).hexdigest()}"


def _key(tenant_id: str, sk: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "sk": {"S": sk}}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _reasons(exc: ClientError) -> list[str]:
    return [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons") or []]


class SubscriptionTable:
    """``ports.SubscriptionStore`` on the subscriptions table (low-level client)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    # ---------------------------------------------------------------- the topic record
    def topic(self, tenant_id: str) -> TenantTopic | None:
        item = self.client.get_item(TableName=self.table, Key=_key(tenant_id, TOPIC_SK), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _topic(item)

    def topic_for_publish(self, tenant_id: str) -> str | None:
        """The topic ARN when the tenant has a subscription (an eventually consistent read of
        one small item: half a read unit); the publisher caches it."""
        item = self.client.get_item(
            TableName=self.table,
            Key=_key(tenant_id, TOPIC_SK),
            ProjectionExpression="topic_arn, #n",
            ExpressionAttributeNames={"#n": COUNT},
        ).get("Item")
        if item is None:
            return None
        topic = _topic(item)
        return topic.topic_arn if topic.subscriptions > 0 else None

    def set_topic(self, tenant_id: str, topic_arn: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=_key(tenant_id, TOPIC_SK),
            UpdateExpression="SET topic_arn = :arn",
            ExpressionAttributeValues={":arn": {"S": topic_arn}},
        )

    # ---------------------------------------------------------------- subscriptions
    def list(self, tenant_id: str) -> list[Subscription]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "tenant_id = :t AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":p": {"S": SUB_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**request)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((_subscription(i) for i in items), key=lambda s: (s.created_at, s.id))

    def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        item = self.client.get_item(
            TableName=self.table, Key=_key(tenant_id, SUB_PREFIX + subscription_id), ConsistentRead=True
        ).get("Item")
        return None if item is None else _subscription(item)

    def reserve(self, subscription: Subscription, cap: int) -> None:
        s = subscription
        item = {
            **_key(s.tenant_id, SUB_PREFIX + s.id),
            "id": {"S": s.id},
            "protocol": {"S": s.protocol.value},
            "endpoint": {"S": s.endpoint},
            "types": {"NULL": True} if s.types is None else {"L": [{"S": t} for t in s.types]},
            "status": {"S": s.status.value},
            "created_at": {"S": s.created_at.isoformat()},
        }
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(s.tenant_id, TOPIC_SK),
                    "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one",
                    "ConditionExpression": "attribute_not_exists(#n) OR #n < :cap",
                    "ExpressionAttributeNames": {"#n": COUNT},
                    "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}, ":cap": {"N": str(cap)}},
                }
            },
            {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}},
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {**_key(s.tenant_id, _endpoint_sk(s.protocol, s.endpoint)), "subscription_id": {"S": s.id}},
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
        ]
        reasons = self._transact(items)
        if reasons is None:
            return
        if reasons[0] == "ConditionalCheckFailed":
            raise SubscriptionCapReached(s.tenant_id)
        if reasons[2] == "ConditionalCheckFailed":
            raise EndpointTaken(s.endpoint)
        raise RuntimeError(f"the subscription could not be recorded: {reasons}")

    def attach(self, subscription: Subscription) -> bool:
        s = subscription
        assert s.subscription_arn is not None
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(s.tenant_id, SUB_PREFIX + s.id),
                UpdateExpression="SET subscription_arn = :arn, #s = :status",
                ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":arn": {"S": s.subscription_arn}, ":status": {"S": s.status.value}},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def set_status(self, tenant_id: str, subscription_id: str, status: Status) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(tenant_id, SUB_PREFIX + subscription_id),
                UpdateExpression="SET #s = :status",
                ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":status": {"S": status.value}},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":  # deleted meanwhile: nothing to record
                raise

    def release(self, subscription: Subscription) -> bool:
        s = subscription
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": _key(s.tenant_id, SUB_PREFIX + s.id),
                    "ConditionExpression": "attribute_exists(sk)",
                }
            },
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": _key(s.tenant_id, _endpoint_sk(s.protocol, s.endpoint)),
                    "ConditionExpression": "attribute_not_exists(sk) OR subscription_id = :id",
                    "ExpressionAttributeValues": {":id": {"S": s.id}},
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(s.tenant_id, TOPIC_SK),
                    "UpdateExpression": "SET #n = #n - :one",
                    "ConditionExpression": "#n > :zero",
                    "ExpressionAttributeNames": {"#n": COUNT},
                    "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
                }
            },
        ]
        reasons = self._transact(items)
        if reasons is None:
            return True
        if reasons[0] == "ConditionalCheckFailed":
            return False
        raise RuntimeError(f"the subscription could not be deleted: {reasons}")

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """None when the transaction commits, else its cancellation reasons (one per item).
        A conflict with a concurrent transaction on the same items is retried."""
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                self.client.transact_write_items(TransactItems=items)
                return None
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                reasons = _reasons(exc)
                if "TransactionConflict" in reasons and attempt < _CONFLICT_RETRIES:
                    time.sleep(0.02 * (attempt + 1))
                    continue
                return reasons + ["None"] * (len(items) - len(reasons))
        raise AssertionError("unreachable")


def _topic(item: dict[str, Any]) -> TenantTopic:
    arn = item.get("topic_arn", {}).get("S")
    count = int(item.get(COUNT, {}).get("N", "0"))
    return TenantTopic(topic_arn=arn, subscriptions=count)


def _subscription(item: dict[str, Any]) -> Subscription:
    return Subscription(
        id=item["id"]["S"],
        tenant_id=item["tenant_id"]["S"],
        protocol=Protocol(item["protocol"]["S"]),
        endpoint=item["endpoint"]["S"],
        types=None if "L" not in item.get("types", {}) else tuple(t["S"] for t in item["types"]["L"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        status=Status(item["status"]["S"]),
        subscription_arn=item.get("subscription_arn", {}).get("S"),
    )


class SnsChannels:
    """``ports.SubscriptionChannels`` on SNS."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def ensure_topic(self, name: str) -> str:
        return str(self.client.create_topic(Name=name, Attributes=dict(TOPIC_ENCRYPTION))["TopicArn"])

    def subscribe(
        self, topic_arn: str, protocol: Protocol, endpoint: str, filter_policy: str | None
    ) -> tuple[str, Status]:
        attributes = (
            {} if filter_policy is None else {"FilterPolicy": filter_policy, "FilterPolicyScope": "MessageAttributes"}
        )
        try:
            arn = str(
                self.client.subscribe(
                    TopicArn=topic_arn,
                    Protocol=protocol.value,
                    Endpoint=endpoint,
                    Attributes=attributes,
                    ReturnSubscriptionArn=True,  # the ARN even while confirmation is pending
                )["SubscriptionArn"]
            )
        except ClientError as exc:
            if _code(exc) == "FilterPolicyLimitExceeded":
                raise FilterPolicyQuotaReached(str(exc)) from None
            if _code(exc) in ("InvalidParameter", "InvalidParameterValue"):
                raise EndpointRejected(str(exc.response.get("Error", {}).get("Message") or exc)) from None
            raise
        return arn, self.status(arn) or Status.PENDING_CONFIRMATION

    def status(self, subscription_arn: str) -> Status | None:
        try:
            attributes = self.client.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]
        except ClientError as exc:
            if _code(exc) in ("NotFound", "NotFoundException"):
                return None
            raise
        pending = str(attributes.get("PendingConfirmation", "false")).lower() == "true"
        return Status.PENDING_CONFIRMATION if pending else Status.CONFIRMED

    def unsubscribe(self, subscription_arn: str) -> None:
        try:
            self.client.unsubscribe(SubscriptionArn=subscription_arn)
        except ClientError as exc:
            if _code(exc) not in ("NotFound", "NotFoundException"):
                raise

    def find(self, topic_arn: str, protocol: Protocol, endpoint: str) -> str | None:
        for page in self.client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for entry in page.get("Subscriptions", []):
                if entry.get("Protocol") == protocol.value and entry.get("Endpoint") == endpoint:
                    arn = str(entry.get("SubscriptionArn", ""))
                    return arn if arn.startswith("arn:") else None  # "PendingConfirmation": SNS expires it
        return None


def subject_line(subject: str) -> str:
    """A Subject SNS takes: one line of ASCII, under 100 characters."""
    text = "".join(c if 0x20 <= ord(c) < 0x7F else " " for c in subject).strip()
    return text[:99]


class SnsTenantAlertTopics:
    """``ports.TenantAlertTopics``: one Publish to the tenant's topic, whose subscriptions'
    filter policies pick what each receives. ``topic_of`` finds the tenant's topic ARN, None
    when it has no subscriptions; the composition root caches it (60 s, misses not cached)."""

    def __init__(self, client: Any, topic_of: Callable[[str], str | None]) -> None:
        self.client, self.topic_of = client, topic_of

    def publish(self, tenant_id: str, subject: str, message: str, attributes: dict[str, str]) -> str | None:
        topic_arn = self.topic_of(tenant_id)
        if topic_arn is None:
            return None
        values = {**attributes, "tenant_id": tenant_id}
        request: dict[str, Any] = {
            "TopicArn": topic_arn,
            "Message": message,
            "MessageAttributes": {k: {"DataType": "String", "StringValue": str(v)} for k, v in values.items()},
        }
        if line := subject_line(subject):
            request["Subject"] = line
        return str(self.client.publish(**request)["MessageId"])
