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

Two costs of moto grow with the data, which matters once the local stack keeps its state across
restarts: each ``TransactWriteItems`` deep-copies every table it touches for its rollback (seconds
per transaction with 50,000 items), and every ``Item`` moto ever creates, copies included, stays
referenced from ``Item.instances_tracked`` (a list only moto's dashboard reads; SQS messages
likewise). ``tune_moto()`` makes the rollback copy only the items the transaction names (their
hash-key partitions; the rest of the table is shared, which is safe because requests are
serialized) and the server empties those tracking lists after each request.

``AtomicMotoServer`` is ``moto.server.ThreadedMotoServer`` with this application; the local stack
and the tests that need moto in server mode use it.
"""

from __future__ import annotations

import copy
import decimal
import io
import json
import sys
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
            try:
                return list(self.app(environ, start_response))
            finally:
                _forget_tracked_instances()

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


# ------------------------------------------------------------------ moto tuning
# moto and werkzeug are imported where they are used, not at the top: they take ~0.5 s to
# import, and `tollgate local fire` imports the stack (hence this module) without running moto.
_transaction = threading.local()  # .touched: {table name: {hash key}} while a transaction runs
_tuned = False


def tune_moto() -> None:
    """Install the cheap transaction rollback (idempotent). Only for a serialized server."""
    global _tuned
    if _tuned:
        return
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - see "moto tuning"
    from moto.dynamodb.models.table import Table  # noqa: PLC0415 - see "moto tuning"

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _transaction.touched = _touched_partitions(self, transact_items)
        try:
            return original(self, transact_items)
        finally:
            _transaction.touched = None

    DynamoDBBackend.transact_write_items = transact_write_items
    Table.__deepcopy__ = _table_deepcopy
    _tuned = True


def _touched_partitions(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, set[Any]] | None:
    """The hash keys each table's items in the transaction have; None when unsure (full copy)."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415 - see "moto tuning"

    touched: dict[str, set[Any]] = {}
    try:
        for entry in transact_items:
            for kind, operation in entry.items():
                table = backend.tables.get(operation.get("TableName"))
                if table is None:
                    continue
                key = operation.get("Item") if kind == "Put" else operation.get("Key")
                touched.setdefault(table.name, set()).add(DynamoType(key[table.hash_key_attr]))
    except Exception:  # noqa: BLE001 - anything unexpected: moto's own full copy
        return None
    return touched


def _table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    """A rollback copy of a table for the running transaction: the touched partitions copied,
    the others shared. Any other deepcopy of a table copies everything, as before."""
    touched = getattr(_transaction, "touched", None)
    items = getattr(self, "items", None)
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    if touched is None or self.name not in touched or not isinstance(items, dict):
        for name, value in vars(self).items():
            setattr(clone, name, copy.deepcopy(value, memo))
        return clone
    vars(clone).update(vars(self))
    shared = copy.copy(items)  # same class (defaultdict), same partitions
    for hash_key in touched[self.name]:
        if hash_key in items:
            shared[hash_key] = copy.deepcopy(items[hash_key])
    clone.items = shared
    return clone


def _forget_tracked_instances() -> None:
    """moto keeps every model instance it ever created for its dashboard; drop DynamoDB's items
    and tables and SQS's messages (each usage message is up to 256 KB, and every receive copies it)."""
    for module_name, class_name in (
        ("moto.dynamodb.models.dynamo_type", "Item"),
        ("moto.dynamodb.models.table", "Table"),
        ("moto.sqs.models", "Message"),
    ):
        model = getattr(sys.modules.get(module_name), class_name, None)
        tracked = getattr(model, "instances_tracked", None)
        if tracked:
            tracked.clear()


class AtomicMotoServer:
    """A moto server on a thread, serving ``SerializedMotoApp`` (the ``ThreadedMotoServer`` API)."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (ip_address, port)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: SerializedMotoApp | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - see "moto tuning"
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415 - see "moto tuning"

        tune_moto()
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
