"""Invoke functions in-process, one event per "execution environment" at a time.

Like Lambda, an environment handles one invocation at a time, and concurrent invocations get
further environments; idle ones are reused. Locally an environment is a separate import of the
function's own ``app.py`` (``import_handler(spec, instance=n)``), which builds that
environment's composition root, resolver, routers and Edge (``tollgate.wiring``,
``tollgate.api.apps``): request state - the resolver's current event and context, the
principal - and the caches belong to one environment, so concurrent invocations do not see each
other's requests. What the layer's modules hold is shared by every environment of the process,
as it is not on Lambda: module constants, pynamodb's table binding (the same for all), and
Powertools' logger keys (log keys of concurrent invocations may mix in the local log output).
Powertools' metric sets are per thread (powertools_threads.py): one invocation's flush never
meets another's metrics. The function's Timeout is reported through the context but not
enforced.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .template import FunctionSpec, Handler, import_handler


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str  # a string, as in the real runtime
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


class FunctionRuntime:
    """A pool of warm execution environments for one function."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._idle: list[tuple[int, Handler]] = []
        self._created = 0
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Import the handler once now, so a broken function fails at startup, not on first use."""
        self._release(self._acquire())

    def invoke(self, event: Any) -> Any:
        """Run the handler on ``event`` with a fresh context; exceptions propagate to the caller."""
        environment = self._acquire()
        try:
            return environment[1](event, self.context())
        finally:
            self._release(environment)

    def context(self) -> LambdaContext:
        spec = self.spec
        return LambdaContext(
            function_name=spec.name,
            function_version="$LATEST",
            invoked_function_arn=spec.arn,
            memory_limit_in_mb=str(spec.memory_mb),
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{spec.name}",
            log_stream_name=f"local/[$LATEST]{uuid.uuid4().hex}",
            deadline_ms=int(time.time() * 1000) + spec.timeout_s * 1000,
        )

    def _acquire(self) -> tuple[int, Handler]:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            instance = self._created
            self._created += 1
        return instance, import_handler(self.spec, instance)

    def _release(self, environment: tuple[int, Handler]) -> None:
        with self._lock:
            self._idle.append(environment)
