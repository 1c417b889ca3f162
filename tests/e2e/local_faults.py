"""A small client of the local stack's fault injection (``/_local/faults``, faults.py), for e2e tests.

    with injected(local_stack) as faults:
        faults.add(target="gateway", path="/v1/events", status=503, count=3)
        ...
        assert faults.hits() == [3]

Faults are global to the stack: ``injected`` clears them on the way in and on the way out, so a
test's faults never reach the next test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from tests.e2e.conftest import LocalStackProcess


class LocalFaults:
    def __init__(self, stack: LocalStackProcess) -> None:
        self.url = f"{stack.base_url}/_local/faults"
        self.headers = {"Authorization": f"Bearer {stack.admin_key}"}

    def add(self, **spec: Any) -> dict[str, Any]:
        r = requests.post(self.url, headers=self.headers, json=spec, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()

    def list(self) -> list[dict[str, Any]]:
        r = requests.get(self.url, headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["faults"]

    def hits(self) -> list[int]:
        return [fault["hits"] for fault in self.list()]

    def clear(self) -> None:
        assert requests.delete(self.url, headers=self.headers, timeout=10).status_code == 200


@contextmanager
def injected(stack: LocalStackProcess) -> Iterator[LocalFaults]:
    faults = LocalFaults(stack)
    faults.clear()
    try:
        yield faults
    finally:
        faults.clear()
