"""What the local stack's SNS delivers, and how: moto's, made to behave like SNS where tenants'
alert subscriptions depend on it.

What moto 5 does on Publish, per protocol (``moto/sns/models.py``, ``Subscription.publish``),
after applying the subscription's filter policy:

- ``sqs``: enqueues the SNS envelope (or the raw message) straight into the queue. Kept as is.
- ``http``/``https``: ``requests.post`` of the envelope, synchronously, inside the Publish
  call, with no timeout and no error handling, and without the message attributes. A slow
  webhook would hold the (serialized) moto server, and one that is down would fail the
  publisher's Publish - so every other subscriber would get the message again on its retry.
  SNS delivers asynchronously and retries on its own. Replaced: the envelope (with
  ``MessageAttributes``, as SNS sends them) is built under moto's lock and POSTed by a
  delivery thread, in order, with a timeout and SNS's ``x-amz-sns-*`` headers; a failure is
  logged, never raised to the publisher.
- ``email``: nothing at all (moto only keeps the topic's ``sent_notifications``). Replaced: the
  message lands in the local outbox (``GET /_local/outbox``, ``tollgate local outbox``), one
  entry per e-mail subscription that would have received it.

Confirmation: moto confirms every subscription at once (``PendingConfirmation`` false), so
locally every subscription is ``confirmed``, and no SubscriptionConfirmation is sent. On AWS,
e-mail and HTTP(S) subscriptions stay ``pending_confirmation`` until their endpoint confirms.

``install(delivery)`` patches moto's ``Subscription.publish`` in this process (once; the
patch sends to the delivery most recently installed, or to moto's own code when there is none).
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import queue
import threading
from datetime import UTC, datetime
from typing import Any

import requests

logger = logging.getLogger("tollgate.local.sns")

OUTBOX_SIZE = 1000  # the newest e-mails are kept
HTTP_TIMEOUT_S = 15.0  # SNS's own HTTP delivery timeout
_STOP = object()

_PUBLISH_ARGUMENTS = ("subject", "message_attributes", "group_id", "deduplication_id", "message_structure")

_active: LocalSnsDelivery | None = None
_installed = False
_install_lock = threading.Lock()


class LocalSnsDelivery:
    """The local outbox of e-mail deliveries, and the thread that POSTs HTTP(S) deliveries."""

    def __init__(self, *, outbox_size: int = OUTBOX_SIZE, http_timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self._outbox: collections.deque[dict[str, Any]] = collections.deque(maxlen=outbox_size)
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._posts: queue.Queue[Any] = queue.Queue()
        self._timeout = http_timeout_s
        self._thread: threading.Thread | None = None
        self.delivered = 0  # HTTP(S) POSTs answered 2xx
        self.failed = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._post_loop, name="sns-http", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        if self._thread is not None:
            self._posts.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    # ---------------------------------------------------------------- the outbox
    def outbox(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """E-mails delivered since the stack started, oldest first (optionally one tenant's)."""
        with self._lock:
            entries = list(self._outbox)
        return [e for e in entries if tenant_id is None or e["tenant_id"] == tenant_id]

    def mail(self, subscription: Any, message: str, message_id: str, subject: str | None, attributes: Any) -> None:
        values = {name: _attribute_value(value) for name, value in (attributes or {}).items()}
        entry = {
            "number": next(self._numbers),
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "to": subscription.endpoint,
            "subject": subject,
            "message": message,
            "message_id": message_id,
            "tenant_id": values.get("tenant_id"),
            "type": values.get("type"),
            "attributes": values,
            "topic_arn": subscription.topic.arn,
            "subscription_arn": subscription.arn,
        }
        with self._lock:
            self._outbox.append(entry)
        logger.info("e-mail to %s in the local outbox: %s", subscription.endpoint, subject or message_id)

    # ---------------------------------------------------------------- HTTP(S)
    def post(self, subscription: Any, envelope: dict[str, Any]) -> None:
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": envelope.get("Type", "Notification"),
            "x-amz-sns-message-id": envelope.get("MessageId", ""),
            "x-amz-sns-topic-arn": subscription.topic.arn,
            "x-amz-sns-subscription-arn": subscription.arn,
            "User-Agent": "Amazon Simple Notification Service Agent",
        }
        self._posts.put((subscription.endpoint, envelope, headers))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once every POST queued so far was made (for tests)."""
        done = threading.Event()
        self._posts.put(done)
        return done.wait(timeout)

    def _post_loop(self) -> None:
        session = requests.Session()
        while True:
            item = self._posts.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            url, envelope, headers = item
            try:
                answer = session.post(url, data=json.dumps(envelope), headers=headers, timeout=self._timeout)
                if 200 <= answer.status_code < 300:
                    self.delivered += 1
                else:
                    self.failed += 1
                    logger.warning("SNS delivery to %s answered %d", url, answer.status_code)
            except requests.RequestException as error:
                self.failed += 1
                logger.warning("SNS delivery to %s failed: %s", url, error)


def _attribute_value(value: Any) -> Any:
    """moto keeps a message attribute as ``{"Type": ..., "Value": ...}``."""
    return value.get("Value") if isinstance(value, dict) else value


def install(delivery: LocalSnsDelivery | None) -> None:
    """Send this process's moto SNS e-mail and HTTP(S) deliveries to ``delivery`` (None: moto's own)."""
    global _active, _installed
    with _install_lock:
        _active = delivery
        if _installed:
            return
        from moto.sns.models import Subscription  # noqa: PLC0415 - moto only in the stack (~0.4 s)

        original = Subscription.publish

        def publish(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
            target = _active
            if target is None or self.protocol not in ("email", "http", "https"):
                return original(self, message, message_id, *args, **kwargs)
            call = dict(zip(_PUBLISH_ARGUMENTS, args, strict=False))
            call.update(kwargs)
            subject, attributes = call.get("subject"), call.get("message_attributes")
            matcher = self._filter_policy_matcher
            if matcher is not None and not matcher.matches(attributes, message):
                return None
            if call.get("message_structure") == "json":
                message = self._parse_message_structure(message, self.protocol)
            if self.protocol == "email":
                target.mail(self, message, message_id, subject, attributes)
            else:
                target.post(self, self.get_post_data(message, message_id, subject, message_attributes=attributes))
            return None

        Subscription.publish = publish
        _installed = True
