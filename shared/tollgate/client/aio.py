"""``AsyncTollgate``: the asyncio twin of :class:`~tollgate.client.Tollgate`, with the same
settings and methods as coroutines. The flusher is a task created on the first ``await
track(...)`` in the running loop; ``await aclose()`` flushes (there is no atexit hook: an
event loop is gone by then, so close the client, e.g. with ``async with``)."""

# The shared methods of _base.py are typed for the sync client; here they return awaitables.
# mypy: disable-error-code="override"

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from . import _api
from . import models as m
from ._api import Number as Amount
from ._base import ClientBase
from ._buffer import Pending, Stats
from ._encode import join
from ._flush import refuse, report, settle
from ._ids import new_id
from ._protocol import Call, Done, Outcome, batch_step, step
from .errors import ProblemError

T = TypeVar("T")
logger = logging.getLogger("tollgate.client")


class AsyncTollgate(ClientBase):
    """Async Tollgate client (httpx.AsyncClient; ``transport``: an httpx.AsyncBaseTransport)."""

    def _reset(self) -> None:
        super()._reset()
        c = self._config
        self._http = httpx.AsyncClient(
            base_url=c.base_url, headers=self._headers, timeout=c.timeout, transport=self._transport
        )
        self._cond = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncTollgate:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def track(
        self,
        type: str,
        *,
        id: str | None = None,
        subject: str | None = None,
        time: datetime | None = None,
        data: dict[str, Any] | None = None,
    ) -> str:
        """As ``Tollgate.track``; with ``overflow="block"`` it awaits room."""
        event_id = id or new_id()
        body = self._encode(type, event_id, subject, time, data)
        async with self._cond:
            self._check_open()
            if not self._buffer.has_room():
                if not self._drop():
                    return event_id
                self._cond.notify_all()
                await self._cond.wait_for(lambda: self._buffer.has_room() or self._closed)
                self._check_open()
            self._buffer.put(event_id, body)
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._run(), name="tollgate-flusher")
            if self._buffer.pending == 1 or self._buffer.full_batch_ready():
                self._cond.notify_all()
        return event_id

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything tracked so far; True once the API has answered for all of it."""
        async with self._cond:
            target = self._buffer.last_seq
            self._flush_to = max(self._flush_to, target)
            self._cond.notify_all()
            try:
                await asyncio.wait_for(
                    self._cond.wait_for(lambda: self._buffer.answered_up_to(target) or self._aborted), timeout
                )
            except TimeoutError:
                return False
            return self._buffer.answered_up_to(target)

    async def aclose(self, timeout: float | None = None) -> None:
        """Flush within ``timeout`` (default ``close_timeout``), stop the flusher, close."""
        if self._closed:
            return
        async with self._cond:
            self._closed = True
            self._cond.notify_all()
        delivered = await self.flush(self._config.close_timeout if timeout is None else timeout)
        async with self._cond:
            self._aborted = True
            self._cond.notify_all()
            left = 0 if delivered else self._buffer.abandon()
        if left:
            logger.error("tollgate client closed with %d event(s) not delivered (stats.unsent)", left)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self._http.aclose()

    @property
    def stats(self) -> Stats:
        return self._stats()

    async def iter_notifications(self, tenant: str | None = None, **filters: Any) -> AsyncIterator[m.Notification]:
        """Every notification, page after page (``filters``: unread, type, limit)."""
        cursor: str | None = None
        while True:
            page = await self.notifications(tenant, cursor=cursor, **filters)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    if TYPE_CHECKING:  # the shared methods (``_base.py``) return coroutines here

        def send_events(
            self, events: Sequence[Mapping[str, Any]], *, raise_on_rejected: bool = False
        ) -> Awaitable[m.IngestResult]: ...
        def consume(
            self,
            meter: str,
            amount: Amount = 1,
            *,
            id: str | None = None,
            tenant: str | None = None,
            max_retries: int | None = None,
        ) -> Awaitable[m.Decision]: ...
        def quotas(self, tenant: str | None = None, *, meter: str | None = None) -> Awaitable[m.Quotas]: ...
        def usage(
            self,
            meter: str,
            *,
            tenant: str | None = None,
            from_: datetime | None = None,
            to: datetime | None = None,
            window: str | None = None,
            group_by: str | None = None,
        ) -> Awaitable[m.Usage]: ...
        def notifications(
            self,
            tenant: str | None = None,
            *,
            unread: bool | None = None,
            type: str | None = None,
            limit: int | None = None,
            cursor: str | None = None,
        ) -> Awaitable[m.Page[m.Notification]]: ...
        def create_tenant(self, id: str, name: str, **fields: Any) -> Awaitable[m.Tenant]: ...
        def get_tenant(self, id: str) -> Awaitable[m.Tenant]: ...
        def list_tenants(
            self, *, limit: int | None = None, cursor: str | None = None, **filters: Any
        ) -> Awaitable[m.Page[m.Tenant]]: ...
        def create_key(
            self, scope: str, *, tenant_id: str | None = None, name: str | None = None
        ) -> Awaitable[m.CreatedKey]: ...
        def list_keys(self, *, limit: int | None = None, cursor: str | None = None) -> Awaitable[m.Page[m.Key]]: ...
        def revoke_key(self, key_id: str) -> Awaitable[m.Key]: ...
        def get_limits(self, tenant: str) -> Awaitable[m.TenantLimits]: ...
        def set_limits(
            self, tenant: str, limits: Sequence[Mapping[str, Any]], *, reason: str | None = None
        ) -> Awaitable[m.TenantLimits]: ...

    # ------------------------------------------------------------------ the flusher
    async def _run(self) -> None:
        while True:
            async with self._cond:
                batch = await self._next_batch()
            if batch is None:
                return
            await self._deliver(batch)

    async def _next_batch(self) -> list[Pending] | None:
        deadline = time.monotonic() + self._config.flush_interval
        while not self._aborted:
            if self._send_now() or (self._buffer.queue and time.monotonic() >= deadline):
                return self._buffer.take()
            if self._closed and not self._buffer.queue:
                return None
            wait = max(0.0, deadline - time.monotonic()) if self._buffer.queue else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cond.wait(), wait)
            if not self._buffer.queue:
                deadline = time.monotonic() + self._config.flush_interval
        return None

    async def _pause(self, delay: float) -> bool:
        await (self._injected_sleep or asyncio.sleep)(delay)
        return not self._aborted

    async def _deliver(self, batch: list[Pending]) -> None:
        c = self._config
        call = _api.events(join([p.body for p in batch]), c.content_type, max_retries=-1)
        attempt = 0
        while True:
            outcome = batch_step(call, await self._attempt(call), attempt, c.policy, self._rng)
            if isinstance(outcome, ProblemError):
                async with self._cond:
                    rejected = refuse(self._buffer, batch, outcome)
                report(rejected, self._on_rejected, outcome)
                return await self._settled()
            if isinstance(outcome, Done):
                return await self._settle(batch, outcome.value)
            self._buffer.counts["retries"] += len(batch)
            if not await self._pause(outcome.delay):
                return
            attempt += 1

    async def _settled(self) -> None:
        async with self._cond:
            self._buffer.settled()
            self._cond.notify_all()

    async def _settle(self, batch: list[Pending], result: m.IngestResult) -> None:
        async with self._cond:
            rejected, requeued = settle(self._buffer, batch, result)
        report(rejected, self._on_rejected)
        await self._settled()
        delay = self._requeue_delay(requeued)
        if delay is not None:
            await self._pause(delay)

    # ------------------------------------------------------------------ requests
    async def _attempt(self, call: Call[Any]) -> Outcome:
        try:
            return await self._http.request(**call.request_args())
        except httpx.TransportError as exc:
            return exc

    async def _call(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            outcome = step(call, await self._attempt(call), attempt, self._config.policy, self._rng)
            if isinstance(outcome, Done):
                return outcome.value
            await (self._injected_sleep or asyncio.sleep)(outcome.delay)
            attempt += 1
