"""``AsyncTollgate``: the asyncio twin of :class:`~tollgate.client.Tollgate`, with the same
settings and methods as coroutines. The flusher is a task created on the first ``await
track(...)`` in the running loop; ``await aclose()`` flushes (there is no atexit hook: an
event loop is gone by then, so close the client, e.g. with ``async with``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any, TypeVar

import httpx

from . import _api
from ._base import ClientBase
from ._buffer import Pending, Stats
from ._encode import join
from ._flush import refuse, report, settle
from ._ids import new_id
from ._protocol import Call, Done, Outcome, step
from .errors import ProblemError
from .models import IngestResult

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
            try:
                outcome = step(call, await self._attempt(call), attempt, c.policy, self._rng)
            except ProblemError as err:
                async with self._cond:
                    rejected = refuse(self._buffer, batch, err)
                    self._cond.notify_all()
                report(rejected, self._on_rejected, err)
                return
            if isinstance(outcome, Done):
                return await self._settle(batch, outcome.value)
            self._buffer.counts["retries"] += len(batch)
            if not await self._pause(outcome.delay):
                return
            attempt += 1

    async def _settle(self, batch: list[Pending], result: IngestResult) -> None:
        async with self._cond:
            rejected, requeued = settle(self._buffer, batch, result)
            self._cond.notify_all()
        report(rejected, self._on_rejected)
        if requeued:
            await self._pause(self._config.policy.delay(self._requeue_attempt, self._rng))
            self._requeue_attempt += 1
        else:
            self._requeue_attempt = 0

    # ------------------------------------------------------------------ requests
    async def _attempt(self, call: Call[Any]) -> Outcome:
        try:
            return await self._http.request(
                call.method,
                call.path,
                params=call.params or None,
                content=call.body,
                headers={"Content-Type": call.content_type} if call.body is not None else None,
            )
        except httpx.TransportError as exc:
            return exc

    async def _call(self, call: Call[T]) -> T:  # type: ignore[override]
        attempt = 0
        while True:
            outcome = step(call, await self._attempt(call), attempt, self._config.policy, self._rng)
            if isinstance(outcome, Done):
                return outcome.value
            await (self._injected_sleep or asyncio.sleep)(outcome.delay)
            attempt += 1
