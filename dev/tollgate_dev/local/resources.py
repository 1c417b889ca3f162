"""Create the template's tables, queues, topics, subscriptions and buckets on an AWS endpoint.

Only what behaves differently locally is applied: key schema, indexes, billing mode, TTL and
stream for tables (the template's ``!GetAtt T.StreamArn`` resolves once the table exists);
every queue attribute (the redrive policy after all queues exist, so a queue may name a
dead-letter queue declared after it); topic and subscription attributes; bucket versioning,
encryption and public access block. Lifecycle rules, policies and log groups are not emulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from .template import TableSpec, Template, as_text

# CloudFormation property -> SQS queue attribute of the same meaning.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)
_TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion")
_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")


@dataclass
class CreatedResources:
    """Logical id -> physical name (or ARN, for subscriptions), per kind."""

    tables: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return ", ".join(f"{kind}: {len(items)}" for kind, items in vars(self).items() if items)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def table_request(spec: TableSpec) -> dict[str, Any]:
    """The CreateTable request of a template table: keys, billing, indexes and its stream."""
    request: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": spec.key_schema,
        "AttributeDefinitions": spec.attribute_definitions,
        "BillingMode": spec.billing_mode,
    }
    if spec.provisioned_throughput:
        request["ProvisionedThroughput"] = spec.provisioned_throughput
    if spec.global_secondary_indexes:
        request["GlobalSecondaryIndexes"] = spec.global_secondary_indexes
    if spec.local_secondary_indexes:
        request["LocalSecondaryIndexes"] = spec.local_secondary_indexes
    if spec.stream_specification:  # CloudFormation's has no StreamEnabled; the API's requires it
        request["StreamSpecification"] = {"StreamEnabled": True, **spec.stream_specification}
    return request


def create_tables(template: Template, session: boto3.Session) -> dict[str, str]:
    """Create every table and enable its TTL attribute; returns logical id -> table name."""
    dynamodb = session.client("dynamodb")
    created: dict[str, str] = {}
    for logical_id, spec in template.table_specs().items():
        table = dynamodb.create_table(**table_request(spec))["TableDescription"]
        if spec.stream_specification:
            template.record_attribute(logical_id, "StreamArn", table["LatestStreamArn"])
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=spec.name,
                TimeToLiveSpecification={"AttributeName": spec.ttl_attribute, "Enabled": True},
            )
        created[logical_id] = spec.name
    return created


def create_queues(template: Template, session: boto3.Session) -> dict[str, str]:
    """Create every queue, then attach redrive policies; returns logical id -> queue URL."""
    sqs = session.client("sqs")
    created: dict[str, str] = {}
    redrive: dict[str, dict[str, str]] = {}
    for logical_id, _ in template.resources_of_type("AWS::SQS::Queue"):
        props = template.properties(logical_id)
        attributes = {name: as_text(props[name]) for name in _QUEUE_ATTRIBUTES if name in props}
        url = sqs.create_queue(QueueName=template.physical_name(logical_id), Attributes=attributes)["QueueUrl"]
        created[logical_id] = url
        extra = {name: _json_text(props[name]) for name in ("RedrivePolicy", "RedriveAllowPolicy") if name in props}
        if extra:
            redrive[url] = extra
    for url, attributes in redrive.items():
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return created


def create_topics(template: Template, session: boto3.Session) -> tuple[dict[str, str], dict[str, str]]:
    """Create every topic and every subscription whose Condition holds; returns two id -> ARN maps."""
    sns = session.client("sns")
    topics: dict[str, str] = {}
    for logical_id, _ in template.resources_of_type("AWS::SNS::Topic"):
        props = template.properties(logical_id)
        attributes = {name: as_text(props[name]) for name in _TOPIC_ATTRIBUTES if name in props}
        topics[logical_id] = sns.create_topic(Name=template.physical_name(logical_id), Attributes=attributes)[
            "TopicArn"
        ]
    subscriptions: dict[str, str] = {}
    for logical_id, _ in template.resources_of_type("AWS::SNS::Subscription"):
        props = template.properties(logical_id)
        attributes = {name: _json_text(props[name]) for name in _SUBSCRIPTION_ATTRIBUTES if name in props}
        response = sns.subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        subscriptions[logical_id] = response["SubscriptionArn"]
    return topics, subscriptions


def create_buckets(template: Template, session: boto3.Session) -> dict[str, str]:
    """Create every bucket with its versioning, encryption and public access block."""
    s3 = session.client("s3")
    created: dict[str, str] = {}
    for logical_id, _ in template.resources_of_type("AWS::S3::Bucket"):
        props = template.properties(logical_id)
        name = template.physical_name(logical_id)
        request: dict[str, Any] = {"Bucket": name}
        if template.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": template.region}
        s3.create_bucket(**request)
        if versioning := props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        if encryption := props.get("BucketEncryption"):
            rules = [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                | (
                    {"BucketKeyEnabled": rule["BucketKeyEnabled"] in (True, "true")}
                    if "BucketKeyEnabled" in rule
                    else {}
                )
                for rule in encryption["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if block := props.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={k: v in (True, "true") for k, v in block.items()},
            )
        created[logical_id] = name
    return created


def create_all(template: Template, session: boto3.Session) -> CreatedResources:
    """Create every supported resource the template declares."""
    tables = create_tables(template, session)
    queues = create_queues(template, session)  # before topics: a subscription may name a queue
    topics, subscriptions = create_topics(template, session)
    return CreatedResources(
        tables=tables,
        queues=queues,
        topics=topics,
        subscriptions=subscriptions,
        buckets=create_buckets(template, session),
    )
