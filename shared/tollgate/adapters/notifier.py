"""``services.ports.Notifier`` on SNS: one message per event, its type and dedupe key as
message attributes (so subscriptions can filter by type), the payload as JSON."""

from __future__ import annotations

import json
from typing import Any


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client, self.topic_arn = client, topic_arn

    def publish(self, event_type: str, payload: dict[str, Any], *, dedupe_key: str) -> str:
        response = self.client.publish(
            TopicArn=self.topic_arn,
            Subject=event_type[:100],
            Message=json.dumps({"type": event_type, "id": dedupe_key, "data": payload}, default=str),
            MessageAttributes={
                "type": {"DataType": "String", "StringValue": event_type},
                "dedupe_key": {"DataType": "String", "StringValue": dedupe_key},
            },
        )
        return str(response["MessageId"])
