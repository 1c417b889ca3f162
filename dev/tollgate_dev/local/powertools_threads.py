"""Powertools ``Metrics`` per thread in the local stack.

``Metrics`` keeps its metric, dimension and metadata sets in class attributes: every instance
in a process shares them. On Lambda one process serves one invocation at a time, so that is
safe. The local stack runs many execution environments as threads of one process, and there
one invocation's flush iterated the set while another added to it (``RuntimeError: dictionary
changed size during iteration``: a 500 for a request that was fine). Each invocation runs on
one thread from its start to its flush (``log_metrics``), so a set per thread gives each the
process of its own that Lambda would.

``isolate_metrics()`` must run before the first ``Metrics()`` is made: an instance binds the
class's sets when it is created. The package's ``__init__`` calls it, before any handler or
the composition root is imported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from typing import Any


class PerThreadDict(MutableMapping[str, Any]):
    """A dict whose contents belong to the calling thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _own(self) -> dict[str, Any]:
        own: dict[str, Any] | None = getattr(self._local, "items", None)
        if own is None:
            own = self._local.items = {}
        return own

    def __getitem__(self, key: str) -> Any:
        return self._own()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._own()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._own()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._own())

    def __len__(self) -> int:
        return len(self._own())

    def clear(self) -> None:
        self._own().clear()


def isolate_metrics() -> None:
    """Give Powertools ``Metrics`` a metric, dimension and metadata set per thread (idempotent).
    Default dimensions stay shared: they are set once, and only read per invocation."""
    from aws_lambda_powertools.metrics import metrics  # noqa: PLC0415 - only the local stack needs it

    for name in ("_metrics", "_dimensions", "_metadata"):
        if not isinstance(getattr(metrics.Metrics, name), PerThreadDict):
            setattr(metrics.Metrics, name, PerThreadDict())
