"""In-memory ``Notifier`` and ``BlobStore`` (services.ports), for the services that alerts and
invoices bring. tests/integration/test_outbox_contract.py holds them to the same contract as
the SNS and S3 adapters."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Published:
    event_type: str
    payload: dict[str, Any]
    dedupe_key: str
    message_id: str


class FakeNotifier:
    def __init__(self) -> None:
        self.published: list[Published] = []
        self._ids = itertools.count(1)

    def publish(self, event_type: str, payload: dict[str, Any], *, dedupe_key: str) -> str:
        message_id = f"msg-{next(self._ids)}"
        self.published.append(Published(event_type, dict(payload), dedupe_key, message_id))
        return message_id


class FakeBlobStore:
    def __init__(self, base_url: str = "https://blobs.invalid") -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.base_url = base_url

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = (bytes(body), content_type)

    def get(self, key: str) -> bytes | None:
        found = self.objects.get(key)
        return found[0] if found else None

    def link(self, key: str, expires_in_s: int) -> str:
        return f"{self.base_url}/{quote(key)}?expires_in={expires_in_s}"
