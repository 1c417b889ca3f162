"""What the sync and async clients share: the settings, the buffer's state, when to send, and
the API's methods. Each method builds a :class:`Call` and hands it to ``self._call``, which the
sync client runs at once and the async one returns as a coroutine: one definition, two clients.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from . import _api
from . import models as m
from ._buffer import Buffer, Stats
from ._config import USER_AGENT, Config, Overflow
from ._encode import encode_event, encode_events, join
from ._flush import DropWarning, OnRejected
from ._ids import new_id
from ._protocol import Call, request_headers
from ._retry import Uniform
from .errors import TollgateError

T = TypeVar("T")


class ClientBase:
    """The settings and methods of :class:`~tollgate.client.Tollgate` and
    :class:`~tollgate.client.AsyncTollgate` (docs/client.md has the table)."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 5,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        buffer_capacity: int = 10_000,
        overflow: Overflow = "block",
        close_timeout: float = 10.0,
        cloudevents: bool = False,
        source: str = "tollgate-python",
        transport: Any = None,
        on_rejected: OnRejected | None = None,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
        sleep: Callable[[float], Any] | None = None,
        rng: Uniform | None = None,
    ) -> None:
        """``transport``: an httpx transport (tests pass ``httpx.MockTransport``). ``sleep``
        and ``rng``: the waits between retries and the jitter's source, for tests (``sleep``
        is a coroutine function on the async client). ``on_rejected``: called by the
        flusher with the events the API refused for good."""
        if not isinstance(key, str) or not key.strip():
            raise ValueError("key must be a Tollgate API key (tg_...)")
        self._config = Config(
            base_url.rstrip("/"),
            timeout,
            max_retries,
            batch_size,
            flush_interval,
            buffer_capacity,
            overflow,
            close_timeout,
            cloudevents,
            source,
            retry_base,
            retry_cap,
        )
        self._headers = request_headers(key, USER_AGENT)
        self._transport = transport
        self._on_rejected = on_rejected
        self._injected_sleep = sleep
        self._rng: Uniform = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        c = self._config
        self._buffer = Buffer(c.buffer_capacity, c.batch_size, c.max_body_bytes)
        self._drops = DropWarning()
        self._flush_to = 0
        self._requeue_attempt = 0
        self._aborted = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config.base_url!r}, key=***)"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_timeout(self) -> float:
        return self._config.close_timeout

    def _call(self, call: Call[T]) -> T:
        """Send ``call`` with retries: the sync client returns the answer, the async one a
        coroutine of it (its methods are typed as coroutines in aio.py)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared decisions
    def _check_open(self) -> None:
        if self._closed:
            raise TollgateError(f"this {type(self).__name__} client is closed")

    def _drop(self) -> bool:
        """The buffer is full: True to wait for room, False when the event is dropped."""
        if self._config.overflow == "drop":
            self._buffer.counts["dropped"] += 1
            self._drops.dropped()
            return False
        return True

    def _encode(self, type_: str, event_id: str, subject: str | None, time: datetime | None, data: Any) -> bytes:
        return encode_event(type_, event_id, subject=subject, time=time, data=data, source=self._config.event_source)

    def _send_now(self) -> bool:
        """A batch must go without waiting for the interval: full, buffer full, flush, close."""
        b = self._buffer
        urgent = b.full_batch_ready() or not b.has_room() or self._closed
        return bool(b.queue) and (urgent or b.queue[0].seq <= self._flush_to)

    def _requeue_delay(self, requeued: int) -> float | None:
        """After a 202: the backoff before resending the events the API could not queue
        (growing while it keeps refusing some), or None when it took them all."""
        if not requeued:
            self._requeue_attempt = 0
            return None
        self._requeue_attempt += 1
        return self._config.policy.delay(self._requeue_attempt - 1, self._rng)

    def _stats(self) -> Stats:
        return self._buffer.stats()

    # ------------------------------------------------------------------ the API
    def send_events(self, events: Sequence[Mapping[str, Any]], *, raise_on_rejected: bool = False) -> m.IngestResult:
        """POST /v1/events now (no buffer): the 202 body. Events without an ``id`` get a
        UUIDv7; retried on transient failures with the same ids. ``rejected`` items marked
        ``retryable`` were valid but not queued: send them again. ``raise_on_rejected``:
        raise :class:`EventsRejected` when any event was rejected."""
        body = join(encode_events(events, self._config.event_source))
        return self._call(_api.events(body, self._config.content_type, raise_on_rejected=raise_on_rejected))

    def consume(
        self,
        meter: str,
        amount: _api.Number = 1,
        *,
        id: str | None = None,
        tenant: str | None = None,
        max_retries: int | None = None,
    ) -> m.Decision:
        """POST /v1/consume: may the tenant use ``amount`` now (recorded when allowed)? A
        denial (429) is a returned ``Decision(allowed=False)``. The id (a new UUIDv7 unless
        given) is the same on every retry, so a retry never counts twice."""
        return self._call(_api.consume(meter, amount, id or new_id(), tenant, max_retries))

    def quotas(self, tenant: str | None = None, *, meter: str | None = None) -> m.Quotas:
        """GET /v1/quotas (retried)."""
        return self._call(_api.quotas(tenant, meter))

    def usage(
        self,
        meter: str,
        *,
        tenant: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        window: str | None = None,
        group_by: str | None = None,
    ) -> m.Usage:
        """GET /v1/usage (retried): the series (``window``: hour, day or month) and total."""
        return self._call(_api.usage(meter, tenant, from_, to, window, group_by))

    def notifications(
        self,
        tenant: str | None = None,
        *,
        unread: bool | None = None,
        type: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> m.Page[m.Notification]:
        """GET /v1/notifications (retried): one page, newest first."""
        return self._call(_api.notifications(tenant, unread, type, limit, cursor))

    def create_tenant(self, id: str, name: str, **fields: Any) -> m.Tenant:
        """POST /v1/tenants. Not idempotent: retried only when surely not processed (a
        connection refused, a 429); a 409 means the tenant exists."""
        return self._call(_api.create_tenant(id, name, fields))

    def get_tenant(self, id: str) -> m.Tenant:
        """GET /v1/tenants/{id} (retried)."""
        return self._call(_api.get_tenant(id))

    def list_tenants(self, *, limit: int | None = None, cursor: str | None = None, **filters: Any) -> m.Page[m.Tenant]:
        """GET /v1/tenants (retried); ``filters``: health_status, has_overages, plan, q, sort, include."""
        return self._call(_api.list_tenants(limit, cursor, filters))

    def create_key(self, scope: str, *, tenant_id: str | None = None, name: str | None = None) -> m.CreatedKey:
        """POST /v1/keys (not idempotent; retried only when surely not processed)."""
        return self._call(_api.create_key(scope, tenant_id, name))

    def list_keys(self, *, limit: int | None = None, cursor: str | None = None) -> m.Page[m.Key]:
        """GET /v1/keys (retried): never the secrets."""
        return self._call(_api.list_keys(limit, cursor))

    def revoke_key(self, key_id: str) -> m.Key:
        """DELETE /v1/keys/{id} (retried: revoking twice keeps the first revocation)."""
        return self._call(_api.revoke_key(key_id))

    def get_limits(self, tenant: str) -> m.TenantLimits:
        """GET /v1/tenants/{id}/limits (retried)."""
        return self._call(_api.get_limits(tenant))

    def set_limits(
        self, tenant: str, limits: Sequence[Mapping[str, Any]], *, reason: str | None = None
    ) -> m.TenantLimits:
        """PUT /v1/tenants/{id}/limits (retried: it replaces the overrides)."""
        return self._call(_api.set_limits(tenant, limits, reason))
