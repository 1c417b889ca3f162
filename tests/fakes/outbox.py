"""In-memory ``Notifier`` and ``BlobStore`` (services.ports), for the services that alerts and
invoices bring. tests/integration/test_outbox_contract.py holds them to the same contract as
the SNS and S3 adapters."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote


@dataclass(frozen=True)
class Published:
    event: dict[str, Any]
    subject: str
    message_id: str

    @property
    def id(self) -> str:
        return str(self.event["id"])


class FakeNotifier:
    """``faults``: an object whose ``check(what)`` may raise (tests.fakes.alerts.CallFaults)."""

    def __init__(self, faults: Any = None) -> None:
        self.published: list[Published] = []
        self._ids = itertools.count(1)
        self.faults = faults

    def publish(self, event: dict[str, Any], *, subject: str) -> str:
        if self.faults is not None:
            self.faults.check("SNS")
        assert len(subject) < 100 and "\n" not in subject
        message_id = f"msg-{next(self._ids)}"
        self.published.append(Published(dict(event), subject, message_id))
        return message_id


class FakeBlobStore:
    def __init__(self, base_url: str = "https://blobs.invalid") -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.base_url = base_url

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = (bytes(body), content_type)

    def put_file(self, key: str, body: IO[bytes], content_type: str) -> None:
        self.objects[key] = (body.read(), content_type)

    def get(self, key: str) -> bytes | None:
        found = self.objects.get(key)
        return found[0] if found else None

    def size(self, key: str) -> int | None:
        found = self.objects.get(key)
        return len(found[0]) if found else None

    def link(self, key: str, expires_in_s: int) -> str:
        return f"{self.base_url}/{quote(key)}?expires_in={expires_in_s}"
