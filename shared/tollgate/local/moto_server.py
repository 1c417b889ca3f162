"""The embedded moto server, made to behave like AWS where Tollgate depends on it.

moto is not safe under concurrent requests: its DynamoDB ``TransactWriteItems`` applies a
transaction item by item and rolls a cancelled one back by restoring a copy of the whole table
taken when it began, so a cancellation can undo another request's committed write, and
iterating a table while another thread adds an item fails with "dictionary changed size during
iteration". DynamoDB isolates transactions (serializably, per item). ``SerializedMotoApp``
gives moto that property the simplest way - one request at a time - while the callers still
interleave their requests arbitrarily.

moto also does its number arithmetic (``ADD``, ``SET a = a + :d``) with ``Decimal`` in the
thread's decimal context, Python's default of 28 significant digits; DynamoDB keeps 38. Each
request runs in a context with 38 digits, so sums stay exact as on AWS. (moto adds two
integers without a decimal point as Python ints, which are exact anyway; any fraction on
either side takes the ``Decimal`` path.)

A long-polling ``ReceiveMessage`` (``WaitTimeSeconds`` > 0, JSON protocol) would hold the lock
for its whole wait, so it is emulated: short polls under the lock, 50 ms apart, until a message
arrives or the wait is over. A ReceiveMessage that omits ``WaitTimeSeconds`` on a queue whose
``ReceiveMessageWaitTimeSeconds`` is set still waits inside moto, holding the lock.

``AtomicMotoServer`` is ``moto.server.ThreadedMotoServer`` with this application; the local stack
and the tests that need moto in server mode use it.
"""

from __future__ import annotations

import decimal
import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

DYNAMODB_PRECISION = 38  # significant digits of a DynamoDB number
_LONG_POLL_STEP_S = 0.05

StartResponse = Callable[..., Any]


class SerializedMotoApp:
    """WSGI middleware: one request at a time, in a 38-digit decimal context."""

    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            return self._receive(environ, start_response)
        return self._call(environ, start_response)

    def _call(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        with self.lock, decimal.localcontext(prec=DYNAMODB_PRECISION):
            return list(self.app(environ, start_response))

    def _receive(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            request = json.loads(raw or b"{}")
            wait = float(request.get("WaitTimeSeconds") or 0)
        except (ValueError, TypeError, AttributeError):
            request, wait = None, 0.0
        if request is None or not 0 < wait <= 20:
            return self._call(_with_body(environ, raw), start_response)
        body = json.dumps({**request, "WaitTimeSeconds": 0}).encode()
        deadline = time.monotonic() + wait
        while True:
            captured: list[Any] = []

            def capture(status: str, headers: list, exc_info: Any = None, captured: list = captured) -> Any:
                captured[:] = [status, headers, exc_info]
                return lambda data: None

            chunks = self._call(_with_body(environ, body), capture)
            status, headers, exc_info = captured
            if not status.startswith("200") or b'"Messages"' in b"".join(chunks) or time.monotonic() >= deadline:
                start_response(status, headers, exc_info)
                return chunks
            time.sleep(min(_LONG_POLL_STEP_S, max(0.0, deadline - time.monotonic())))


def _with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


class AtomicMotoServer:
    """A moto server on a thread, serving ``SerializedMotoApp`` (the ``ThreadedMotoServer`` API)."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (ip_address, port)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: SerializedMotoApp | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self.app = SerializedMotoApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(*self._address, self.app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="moto", daemon=True
        )
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._server is not None, "call start() first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint_url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
