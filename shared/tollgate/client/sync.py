"""``Tollgate``: the synchronous client, thread-safe, with a background flusher thread.

``track`` encodes the event and buffers it (no network); a daemon thread, started on the
first ``track``, sends batches when ``batch_size`` events wait or ``flush_interval`` has
passed, and resends a batch with the same ids until the API has answered for it. ``close``
(and the atexit hook) flushes within ``close_timeout``. After ``os.fork`` the child starts
with an empty buffer, new locks, a new HTTP client and its own flusher.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx

from . import _api
from ._base import ClientBase
from ._buffer import Pending, Stats
from ._encode import join
from ._flush import refuse, report, settle
from ._ids import new_id
from ._protocol import Call, Done, Outcome, batch_step, step
from .errors import ProblemError
from .models import IngestResult, Notification, pages

T = TypeVar("T")
logger = logging.getLogger("tollgate.client")
_clients: weakref.WeakSet[Tollgate] = weakref.WeakSet()


class Tollgate(ClientBase):
    """A Tollgate API client. ``key`` is sent as a bearer token and never logged. Settings:
    see :class:`ClientBase` and docs/client.md."""

    _transport: httpx.BaseTransport | None

    def _reset(self) -> None:
        """Fresh state: at construction, and in a forked child (nothing of the parent's)."""
        super()._reset()
        c = self._config
        self._http = httpx.Client(
            base_url=c.base_url, headers=self._headers, timeout=c.timeout, transport=self._transport
        )
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._abort = threading.Event()
        _clients.add(self)  # closed by the atexit hook, reset after a fork

    def __enter__(self) -> Tollgate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tracking
    def track(
        self,
        type: str,
        *,
        id: str | None = None,
        subject: str | None = None,
        time: datetime | None = None,
        data: dict[str, Any] | None = None,
    ) -> str:
        """Buffer one usage event and return its id at once (a new UUIDv7 unless given).
        Every resend uses this id, so the API counts the event once. Data that cannot be sent
        raises ``TypeError``/``ValueError`` here. A full buffer blocks (``overflow="block"``)
        or drops the event (``"drop"``: counted in ``stats.dropped``, logged)."""
        event_id = id or new_id()
        body = self._encode(type, event_id, subject, time, data)
        with self._cond:
            self._check_open()
            if not self._buffer.has_room() and not self._wait_for_room():
                return event_id
            self._buffer.put(event_id, body)
            if self._thread is None:
                self._start_flusher()
            if self._buffer.pending == 1 or self._buffer.full_batch_ready():
                self._cond.notify_all()
        return event_id

    def _wait_for_room(self) -> bool:
        """Under the lock, the buffer full. False: the event is dropped."""
        if not self._drop():
            return False
        self._cond.notify_all()  # the flusher sends at once when the buffer is full
        self._cond.wait_for(lambda: self._buffer.has_room() or self._closed)
        self._check_open()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything tracked so far and wait until the API has answered for it (or
        ``timeout`` seconds). True when it has."""
        with self._cond:
            target = self._buffer.last_seq
            if self._buffer.answered_up_to(target):
                return True
            self._flush_to = max(self._flush_to, target)
            self._cond.notify_all()
            return self._cond.wait_for(
                lambda: self._buffer.answered_up_to(target) or self._abort.is_set(), timeout
            ) and self._buffer.answered_up_to(target)

    def close(self, timeout: float | None = None) -> None:
        """Flush (within ``timeout``, default ``close_timeout``), stop the flusher and close
        the connections. Events still unsent when the bound expires are logged at ERROR and
        counted in ``stats.unsent``. ``track`` raises afterwards."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        bound = self._config.close_timeout if timeout is None else timeout
        delivered = self.flush(bound)
        self._abort.set()
        with self._cond:
            self._cond.notify_all()
            left = 0 if delivered else self._buffer.abandon()
        if left:
            logger.error("tollgate client closed with %d event(s) not delivered (stats.unsent)", left)
        if self._thread is not None:
            self._thread.join(timeout=0.5)
        self._http.close()

    @property
    def stats(self) -> Stats:
        with self._cond:
            return self._stats()

    # ------------------------------------------------------------------ the flusher
    def _start_flusher(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tollgate-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
            if batch is None:
                return
            try:
                self._deliver(batch)
            except Exception:
                if self._abort.is_set():  # close's bound expired mid-request: the client is gone
                    return
                raise

    def _next_batch(self) -> list[Pending] | None:
        """Under the lock: wait for a batch worth sending; None when the flusher must stop."""
        deadline = time.monotonic() + self._config.flush_interval
        while not self._abort.is_set():
            if self._send_now() or (self._buffer.queue and time.monotonic() >= deadline):
                return self._buffer.take()
            if self._closed and not self._buffer.queue:
                return None
            self._cond.wait(max(0.0, deadline - time.monotonic()) if self._buffer.queue else None)
            if not self._buffer.queue:
                deadline = time.monotonic() + self._config.flush_interval
        return None

    def _pause(self, delay: float) -> bool:
        """Wait before a resend; False when close's bound expired meanwhile."""
        if self._injected_sleep is not None:
            self._injected_sleep(delay)
            return not self._abort.is_set()
        return not self._abort.wait(delay)

    def _deliver(self, batch: list[Pending]) -> None:
        """Send ``batch`` until the API answers for it (same ids every time)."""
        c = self._config
        call = _api.events(join([p.body for p in batch]), c.content_type, max_retries=-1)
        attempt = 0
        while True:
            outcome = batch_step(call, self._attempt(call), attempt, c.policy, self._rng)
            if isinstance(outcome, ProblemError):
                with self._cond:
                    rejected = refuse(self._buffer, batch, outcome)
                report(rejected, self._on_rejected, outcome)
                return self._settled()
            if isinstance(outcome, Done):
                return self._settle(batch, outcome.value)
            with self._cond:
                self._buffer.counts["retries"] += len(batch)
            if not self._pause(outcome.delay):
                return
            attempt += 1

    def _settled(self) -> None:
        with self._cond:
            self._buffer.settled()
            self._cond.notify_all()

    def _settle(self, batch: list[Pending], result: IngestResult) -> None:
        with self._cond:
            rejected, requeued = settle(self._buffer, batch, result)
        report(rejected, self._on_rejected)
        self._settled()
        delay = self._requeue_delay(requeued)
        if delay is not None:
            self._pause(delay)

    # ------------------------------------------------------------------ requests
    def _attempt(self, call: Call[Any]) -> Outcome:
        try:
            return self._http.request(**call.request_args())
        except httpx.TransportError as exc:
            return exc

    def _call(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            outcome = step(call, self._attempt(call), attempt, self._config.policy, self._rng)
            if isinstance(outcome, Done):
                return outcome.value
            (self._injected_sleep or time.sleep)(outcome.delay)
            attempt += 1

    def iter_notifications(self, tenant: str | None = None, **filters: Any) -> Iterator[Notification]:
        """Every notification, page after page (``filters``: unread, type, limit)."""
        return pages(lambda cursor: self.notifications(tenant, cursor=cursor, **filters))


def _close_all() -> None:
    """The atexit hook: close every open client. Their flushers all send at once, so they
    share one deadline (the largest ``close_timeout``), not one bound after another."""
    clients = [c for c in list(_clients) if not c.closed]
    if not clients:
        return
    deadline = time.monotonic() + max(c.close_timeout for c in clients)
    for client in clients:
        client.flush(timeout=0)  # every flusher starts sending now
    for client in clients:
        client.close(timeout=min(client.close_timeout, max(0.0, deadline - time.monotonic())))


def _after_fork_in_child() -> None:
    for client in list(_clients):
        client._reset()  # noqa: SLF001 - this module owns its clients


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
