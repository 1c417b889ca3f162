"""The local stack's state across restarts: a snapshot of moto's data, taken at shutdown.

``tollgate local`` keeps its state in a directory (``--state-dir``, ``$TOLLGATE_STATE_DIR``, or
``.tollgate/`` next to template.yaml). At shutdown, once the gateway has stopped and the pollers
have drained their queues, ``capture`` reads every table's items, every queue's messages and
every bucket's objects of the template's resources, and the SNS topics made at run time
(tenants' alert topics) with their subscriptions, and ``save`` writes them to
``state.pickle``: a temporary file, fsync, then a rename, so a crash mid-write keeps the old
snapshot. At start the resources are created from template.yaml as always, and ``restore``
puts the data back into them.

The snapshot holds plain values only (DynamoDB JSON attribute values, message bodies, object
bytes) and loads with an unpickler that refuses every class, so it does not depend on moto's
internals or version, and loading it runs no code. Items go straight into moto's table storage
(built the way moto builds them), which is what makes a restart with 100,000 events take a
second or two rather than minutes of PutItem calls. Messages and objects are few and go through
the API. A run-time topic is made again by name (its ARN is the same) and its subscriptions get
their saved ARNs back, so the subscriptions table's records still name them.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .resources import CreatedResources

logger = logging.getLogger("tollgate.local.state")

FORMAT = "tollgate-local-state"
VERSION = 1
SNAPSHOT_NAME = "state.pickle"
ADMIN_KEY_NAME = "admin-key"
DIRECTORY_NAME = ".tollgate"


class StateError(Exception):
    """The snapshot cannot be read; the message says why in a few words."""


@dataclass
class Snapshot:
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {key_schema, items}
    queues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> messages
    buckets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> objects
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {attributes, subscriptions}
    saved_at: float = 0.0

    def counts(self) -> dict[str, int]:
        return {
            "items": sum(len(t["items"]) for t in self.tables.values()),
            "messages": sum(len(m) for m in self.queues.values()),
            "objects": sum(len(o) for o in self.buckets.values()),
        }


# ------------------------------------------------------------------ where
def default_state_dir(template_path: Path) -> Path:
    """``.tollgate/`` in the project, i.e. next to template.yaml."""
    return template_path.resolve().parent / DIRECTORY_NAME


def snapshot_path(state_dir: Path) -> Path:
    return state_dir / SNAPSHOT_NAME


def clear(state_dir: Path) -> None:
    """Forget the saved state (``--fresh``)."""
    for name in (SNAPSHOT_NAME, ADMIN_KEY_NAME):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def read_admin_key(state_dir: Path) -> str | None:
    try:
        return (state_dir / ADMIN_KEY_NAME).read_text().strip() or None
    except OSError:
        return None


def write_admin_key(state_dir: Path, key: str) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(state_dir / ADMIN_KEY_NAME, (key + "\n").encode(), mode=0o600)


# ------------------------------------------------------------------ file
def save(state_dir: Path, snapshot: Snapshot) -> Path:
    """Write the snapshot atomically (temporary file, fsync, rename)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": snapshot.saved_at or time.time(),
        "tables": snapshot.tables,
        "queues": snapshot.queues,
        "buckets": snapshot.buckets,
        "topics": snapshot.topics,
    }
    path = snapshot_path(state_dir)
    _atomic_write(path, pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL), mode=0o600)
    return path


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    with contextlib.suppress(OSError):  # the rename itself durable (not on every platform)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class _PlainUnpickler(pickle.Unpickler):
    """Builtin values only: a snapshot never names a class, so loading one runs no code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not a plain value")


def load(state_dir: Path) -> Snapshot | None:
    """The saved snapshot, None when there is none; StateError when it cannot be read."""
    path = snapshot_path(state_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror or error}") from error
    enabled = gc.isenabled()
    gc.disable()  # many small objects at once: the collector would walk them again and again
    try:
        document = _PlainUnpickler(io.BytesIO(data)).load()
    except Exception as error:
        raise StateError(f"{path} is not a readable snapshot ({type(error).__name__})") from error
    finally:
        if enabled:
            gc.enable()
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateError(f"{path} is not a Tollgate local state snapshot")
    if document.get("version") != VERSION:
        raise StateError(f"{path} has snapshot format {document.get('version')!r}; this version reads {VERSION}")
    try:
        return Snapshot(
            tables=dict(document["tables"]),
            queues=dict(document["queues"]),
            buckets=dict(document["buckets"]),
            topics=dict(document.get("topics") or {}),  # absent from snapshots of earlier versions
            saved_at=float(document["saved_at"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise StateError(f"{path} is incomplete ({error})") from error


# ------------------------------------------------------------------ moto
# moto is imported where it is used, not at the top: its models take ~0.4 s to import, and
# `tollgate local fire` imports this module for read_admin_key() without running moto.
def _dynamodb_backend(account_id: str, region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415 - see above

    return dynamodb_backends[account_id][region]


def capture(created: CreatedResources, session: Any, *, account_id: str, region: str, hold: Any = None) -> Snapshot:
    """Everything the template's tables, queues and buckets hold. Buckets are read through the
    API first; then ``hold()`` (the stack: take the moto server's lock for good, so a request
    still in flight cannot write after the snapshot and answer success), then tables and
    queues straight from moto's storage."""
    snapshot = Snapshot(saved_at=time.time())
    snapshot.buckets = _capture_buckets(created, session)
    if hold is not None:
        hold()
    backend = _dynamodb_backend(account_id, region)
    for name in created.tables.values():
        table = backend.tables.get(name)
        if table is None:
            continue
        snapshot.tables[name] = {
            "key_schema": _key_schema(table),
            "items": [{k: _plain(v) for k, v in item.attrs.items()} for item in table.all_items()],
        }
    snapshot.queues = _capture_queues(created, account_id=account_id, region=region)
    snapshot.topics = _capture_topics(created, account_id=account_id, region=region)
    return snapshot


def _capture_buckets(created: CreatedResources, session: Any) -> dict[str, list[dict[str, Any]]]:
    s3 = session.client("s3")
    buckets: dict[str, list[dict[str, Any]]] = {}
    for name in created.buckets.values():
        objects = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for entry in page.get("Contents", []):
                got = s3.get_object(Bucket=name, Key=entry["Key"])
                objects.append(
                    {
                        "key": entry["Key"],
                        "body": got["Body"].read(),
                        "content_type": got.get("ContentType"),
                        "metadata": got.get("Metadata") or {},
                    }
                )
        buckets[name] = objects
    return buckets


def _plain(value: Any) -> dict[str, Any]:
    """A moto ``DynamoType`` as DynamoDB JSON of plain values, binary kept as moto holds it."""
    kind, content = value.type, value.value
    if kind == "M":
        return {"M": {name: _plain(member) for name, member in content.items()}}
    if kind == "L":
        return {"L": [_plain(member) for member in content]}
    return {kind: list(content) if isinstance(content, list) else content}


def _key_schema(table: Any) -> list[tuple[str, str]]:
    schema = [(table.hash_key_attr, table.hash_key_type)]
    if table.range_key_attr:
        schema.append((table.range_key_attr, table.range_key_type))
    return schema


def _capture_queues(created: CreatedResources, *, account_id: str, region: str) -> dict[str, list[dict[str, Any]]]:
    """Every message, in flight or not (one that was being processed when the stack stopped is
    delivered again after the restart, as SQS would once its visibility timeout ran out)."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415 - moto only when used (see _dynamodb_backend)

    backend = sqs_backends[account_id][region]
    queues: dict[str, list[dict[str, Any]]] = {}
    for url in created.queues.values():
        name = url.rstrip("/").rsplit("/", 1)[-1]
        queue = backend.queues.get(name)
        if queue is None:
            continue
        queues[name] = [
            {
                "body": message.body,
                "attributes": _api_message_attributes(message.message_attributes),
                "group_id": message.group_id,
                "deduplication_id": message.deduplication_id,
            }
            for message in list(queue._messages)  # noqa: SLF001 - moto has no public accessor for every message
        ]
    return queues


def _api_message_attributes(stored: dict[str, Any]) -> dict[str, Any]:
    """moto keeps message attributes as sent, with lower-case keys; SendMessage wants them capitalised."""
    out: dict[str, Any] = {}
    for name, value in (stored or {}).items():
        attribute = {"DataType": value.get("data_type") or value.get("DataType")}
        for low, api in (("string_value", "StringValue"), ("binary_value", "BinaryValue")):
            if value.get(low) is not None or value.get(api) is not None:
                attribute[api] = value.get(low) if value.get(low) is not None else value.get(api)
        out[name] = attribute
    return out


_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")


def _capture_topics(created: CreatedResources, *, account_id: str, region: str) -> dict[str, dict[str, Any]]:
    """The topics the template does not declare (tenants' alert topics, made by the API), with
    their subscriptions. The template's own are made again from template.yaml at start."""
    from moto.sns.models import sns_backends  # noqa: PLC0415 - moto only when used (see _dynamodb_backend)

    backend = sns_backends[account_id][region]
    declared = set(created.topics.values())
    topics: dict[str, dict[str, Any]] = {}
    for arn, topic in list(backend.topics.items()):
        if arn in declared:
            continue
        subscriptions = [
            {
                "arn": sub.arn,
                "protocol": sub.protocol,
                "endpoint": sub.endpoint,
                "attributes": {
                    name: _attribute_text(sub.attributes[name])
                    for name in _SUBSCRIPTION_ATTRIBUTES
                    if sub.attributes.get(name) not in (None, "", False)
                },
            }
            for sub in list(backend.subscriptions.values())
            if sub.topic is topic
        ]
        attributes = {"KmsMasterKeyId": topic.kms_master_key_id} if topic.kms_master_key_id else {}
        topics[topic.name] = {"attributes": attributes, "subscriptions": subscriptions}
    return topics


def _attribute_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class Restored:
    items: int = 0
    messages: int = 0
    objects: int = 0
    topics: int = 0
    subscriptions: int = 0
    skipped: list[str] = field(default_factory=list)  # what no longer fits the template, and why

    def summary(self) -> str:
        text = f"{self.items} items, {self.messages} messages, {self.objects} objects"
        if self.topics:
            text += f", {self.topics} topics with {self.subscriptions} subscriptions"
        return text


def restore(snapshot: Snapshot, created: CreatedResources, session: Any, *, account_id: str, region: str) -> Restored:
    """Put a snapshot's data into the freshly created resources. A table whose key schema has
    changed in template.yaml, or a resource the template no longer has, is skipped (and named)."""
    restored = Restored()
    _restore_tables(snapshot, created, restored, account_id=account_id, region=region)
    _restore_queues(snapshot, created, restored, session.client("sqs"))
    _restore_buckets(snapshot, created, restored, session.client("s3"))
    _restore_topics(snapshot, restored, session.client("sns"), account_id=account_id, region=region)
    return restored


def _restore_tables(
    snapshot: Snapshot, created: CreatedResources, restored: Restored, *, account_id: str, region: str
) -> None:
    backend = _dynamodb_backend(account_id, region)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name, saved in snapshot.tables.items():
            table = backend.tables.get(name) if name in created.tables.values() else None
            if table is None:
                restored.skipped.append(f"table {name} (no longer in the template)")
                continue
            if [tuple(k) for k in saved["key_schema"]] != _key_schema(table):
                restored.skipped.append(f"table {name} (its key schema changed)")
                continue
            restored.items += _restore_items(table, saved["items"])
    finally:
        if enabled:
            gc.enable()


def _restore_queues(snapshot: Snapshot, created: CreatedResources, restored: Restored, sqs: Any) -> None:
    queue_urls = {url.rstrip("/").rsplit("/", 1)[-1]: url for url in created.queues.values()}
    for name, messages in snapshot.queues.items():
        if name not in queue_urls:
            if messages:
                restored.skipped.append(f"queue {name} ({len(messages)} messages; no longer in the template)")
            continue
        for start in range(0, len(messages), 10):
            entries = [_batch_entry(i, message) for i, message in enumerate(messages[start : start + 10])]
            failed = sqs.send_message_batch(QueueUrl=queue_urls[name], Entries=entries).get("Failed", [])
            if failed:
                raise StateError(f"queue {name} refused restored messages: {failed[0].get('Message')}")
            restored.messages += len(entries)


def _batch_entry(i: int, message: dict[str, Any]) -> dict[str, Any]:
    """A saved message as a SendMessageBatch entry."""
    entry: dict[str, Any] = {"Id": str(i), "MessageBody": message["body"]}
    if message.get("attributes"):
        entry["MessageAttributes"] = message["attributes"]
    if message.get("group_id"):
        entry["MessageGroupId"] = message["group_id"]
    if message.get("deduplication_id"):
        entry["MessageDeduplicationId"] = message["deduplication_id"]
    return entry


def _restore_buckets(snapshot: Snapshot, created: CreatedResources, restored: Restored, s3: Any) -> None:
    for name, objects in snapshot.buckets.items():
        if name not in created.buckets.values():
            if objects:
                restored.skipped.append(f"bucket {name} ({len(objects)} objects; no longer in the template)")
            continue
        for obj in objects:
            extra = {"ContentType": obj["content_type"]} if obj.get("content_type") else {}
            s3.put_object(Bucket=name, Key=obj["key"], Body=obj["body"], Metadata=obj.get("metadata") or {}, **extra)
            restored.objects += 1


def _restore_topics(snapshot: Snapshot, restored: Restored, sns: Any, *, account_id: str, region: str) -> None:
    """Each saved topic made again (same name, same ARN), and each of its subscriptions, which
    then takes its saved ARN back (moto makes a new one)."""
    from moto.sns.models import sns_backends  # noqa: PLC0415 - moto only when used (see _dynamodb_backend)

    backend = sns_backends[account_id][region]
    for name, saved in snapshot.topics.items():
        topic_arn = sns.create_topic(Name=name, Attributes=saved.get("attributes") or {})["TopicArn"]
        restored.topics += 1
        for sub in saved.get("subscriptions") or []:
            made = sns.subscribe(
                TopicArn=topic_arn,
                Protocol=sub["protocol"],
                Endpoint=sub["endpoint"],
                Attributes=sub.get("attributes") or {},
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            if made != sub["arn"] and made in backend.subscriptions:
                model = backend.subscriptions.pop(made)
                model.arn = sub["arn"]
                model.attributes["SubscriptionArn"] = sub["arn"]
                backend.subscriptions[sub["arn"]] = model
            restored.subscriptions += 1


def _restore_items(table: Any, items: list[dict[str, Any]]) -> int:
    """Build moto's items directly into the table's storage (``hash -> item`` or
    ``hash -> {range -> item}``), as ``Table.put_item`` stores them, without its per-item
    validation (the items passed it when they were first written)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict  # noqa: PLC0415 - see _dynamodb_backend

    hash_name, range_name = table.hash_key_attr, table.range_key_attr
    storage = table.items
    if not items:
        return 0
    build = _item_builder(DynamoType, Item, LimitedSizeDict)
    probe = build(items[0], hash_name, range_name)
    reference = Item(
        DynamoType(items[0][hash_name]), DynamoType(items[0][range_name]) if range_name else None, items[0]
    )
    if vars(probe).keys() != vars(reference).keys() or probe != reference:  # moto changed: its own constructor
        build = lambda attrs, h, r: Item(DynamoType(attrs[h]), DynamoType(attrs[r]) if r else None, attrs)  # noqa: E731
    for attrs in items:
        item = build(attrs, hash_name, range_name)
        if range_name:
            storage[item.hash_key][item.range_key] = item
        else:
            storage[item.hash_key] = item
    return len(items)


def _item_builder(dynamo_type: Any, item_class: Any, limited_dict: Any) -> Any:
    new_type, new_item = dynamo_type.__new__, item_class.__new__

    def value(raw: dict[str, Any]) -> Any:
        ((kind, content),) = raw.items()
        if kind in ("L", "M"):
            return dynamo_type(raw)  # nested: moto's constructor converts the members
        typed = new_type(dynamo_type)
        typed.type, typed.value = kind, (list(content) if isinstance(content, list) else content)
        return typed

    def build(attrs: dict[str, Any], hash_name: str, range_name: str | None) -> Any:
        typed = {name: value(raw) for name, raw in attrs.items()}
        item = new_item(item_class)
        item.hash_key = value(attrs[hash_name])  # its own object, as moto's put_item makes it
        item.range_key = value(attrs[range_name]) if range_name else None
        item.attrs = limited_dict(typed)  # dict.update underneath: no per-key size check
        return item

    return build
