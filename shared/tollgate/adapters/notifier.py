"""``services.ports.Notifier`` on SNS: the event document as the message (JSON), its ``type``,
``tenant_id`` and ``severity`` as String message attributes (for subscription filter
policies), and a one-line Subject under 100 characters."""

from __future__ import annotations

import json
from typing import Any

ATTRIBUTES = ("type", "tenant_id", "severity")


def message_attributes(event: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": "String", "StringValue": str(event[name])}
        for name in ATTRIBUTES
        if event.get(name) not in (None, "")
    }


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client, self.topic_arn = client, topic_arn

    def publish(self, event: dict[str, Any], *, subject: str) -> str:
        response = self.client.publish(
            TopicArn=self.topic_arn,
            Subject=subject[:99],
            Message=json.dumps(event, separators=(",", ":"), default=str),
            MessageAttributes=message_attributes(event),
        )
        return str(response["MessageId"])
